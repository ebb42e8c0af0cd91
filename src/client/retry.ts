/**
 * When the client kit sends a request a second time: exactly once, and only where a repeat cannot
 * double an effect. Behind a load balancer an instance can die between accepting a connection and
 * answering; the request then fails without an answer from any instance, and the next attempt
 * reaches a live one.
 *
 * A request is retried once when both hold:
 *
 * 1. **It is safe to repeat.** Token requests are (a second exchange mints a second token, nothing
 *    else changes). Other requests: `GET`, `HEAD`, `OPTIONS`, `PUT` and `DELETE` (idempotent by HTTP
 *    semantics, RFC 9110 §9.2.2), and a `POST`/`PATCH` only with an `Idempotency-Key` header — App B
 *    stores at most one todo per key, so a write whose answer was lost is not done twice.
 * 2. **No instance answered.** The connection failed (`ECONNREFUSED`, `ECONNRESET`, `EPIPE`, socket
 *    closed by the other side / "socket hang up"), or the load balancer itself answered 502, 503 or
 *    504 with a body that is not JSON (nginx's own error page: the instance it chose died). A timeout
 *    is not retried (the caller's time is spent, and the request may still be running), and neither
 *    is any JSON answer: an OAuth error (`invalid_grant`, `temporarily_unavailable`, …) or an
 *    application's 503 is the server's decision, returned as it came.
 *
 * @example
 * const fetchOnce = createRetryingFetch({ onRetry: (reason) => log.warn({ reason }, 'retried') })
 * await fetchOnce(`${appB}/api/todos`, { method: 'POST', headers: { 'idempotency-key': key, … }, body })
 */

/** Error codes of a connection that failed before an answer (node:net and undici). */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
])

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

/** Why a request was sent again: the connection error's code, or `gateway <status>`. */
export type RetryReason = string

/** The connection error's code when `error` (or a cause of it) is one; undefined otherwise. */
export function connectionErrorCode(error: unknown): string | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return code
    if (current.message === 'socket hang up' || current.message === 'other side closed') {
      return 'ECONNRESET'
    }
    current = current.cause
  }
  return undefined
}

/** True for the load balancer's own failure page (502/503/504 whose body is not JSON). */
export function isGatewayFailure(response: Response): boolean {
  if (response.status !== 502 && response.status !== 503 && response.status !== 504) return false
  const type = response.headers.get('content-type') ?? ''
  return !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)
}

/** True when sending this request twice cannot do its effect twice (see the module comment). */
function mayRepeat(method: string | undefined, headers: HeadersInit | undefined): boolean {
  const verb = (method ?? 'GET').toUpperCase()
  if (IDEMPOTENT_METHODS.has(verb)) return true
  return new Headers(headers).has('idempotency-key')
}

export interface RetryingFetchOptions {
  fetch?: typeof fetch
  /** Called before the second attempt (metrics, logs; never given the request). */
  onRetry?: (reason: RetryReason) => void
}

/**
 * `fetch` that sends a request a second time, once, when it is safe to repeat and no instance
 * answered. A body must be a string, URLSearchParams, Blob, ArrayBuffer or typed array (it is sent
 * twice); a stream body is never retried.
 */
export function createRetryingFetch(options: RetryingFetchOptions = {}): typeof fetch {
  const fetchImpl = options.fetch ?? globalThis.fetch
  return async (input, init) => {
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET')
    const headers = init?.headers ?? (input instanceof Request ? input.headers : undefined)
    const streamed = input instanceof Request || init?.body instanceof ReadableStream
    if (streamed || !mayRepeat(method, headers)) return fetchImpl(input, init)
    let response: Response
    try {
      response = await fetchImpl(input, init)
    } catch (error) {
      const code = connectionErrorCode(error)
      if (code === undefined || init?.signal?.aborted) throw error
      options.onRetry?.(code)
      return fetchImpl(input, init)
    }
    if (!isGatewayFailure(response)) return response
    await response.body?.cancel()
    options.onRetry?.(`gateway ${response.status}`)
    return fetchImpl(input, init)
  }
}
