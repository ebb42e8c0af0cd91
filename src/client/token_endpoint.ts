/**
 * Reading a token endpoint's answer (RFC 6749 §5.1, §5.2), the same way for every client of the
 * kit (the RFC 8693 exchange client, the txn-token client): the endpoint resolved, the form POSTed
 * with `client_secret_basic` (RFC 6749 §2.3.1), and every fault turned into one typed error,
 * `TokenExchangeError` — `network_error` when no answer came, the server's OAuth `error` when it
 * sent one, `invalid_response` when it answered an error status without one. What a success must
 * look like is each client's business.
 *
 * @example
 * ```ts
 * const endpoint = await resolveTokenEndpoint(options.tokenEndpoint, 'the token endpoint is unknown')
 * const answer = await postTokenRequest(fetch, endpoint, { authorization, body }, 5000, 'the token endpoint')
 * checkTokenEndpointAnswer(answer, 'the token endpoint')
 * ```
 */
import { z } from 'zod'
import { fetchJson, type JsonAnswer } from './fetch_json.js'
import { connectionErrorCode, isGatewayFailure, type RetryReason } from './retry.js'

export type TokenExchangeErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'network_error'
  | 'invalid_response'
  | (string & {})

export class TokenExchangeError extends Error {
  static readonly code = 'ERR_TOKEN_EXCHANGE_FAILED'
  readonly code = TokenExchangeError.code
  override name = 'TokenExchangeError'
  /** The token endpoint's OAuth `error`, or `network_error` / `invalid_response`. */
  readonly error: TokenExchangeErrorCode
  readonly description: string | undefined
  /** HTTP status of the token endpoint's answer; undefined for network faults. */
  readonly statusCode: number | undefined

  constructor(
    error: TokenExchangeErrorCode,
    description: string | undefined,
    statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(description ? `${error}: ${description}` : error, options)
    this.error = error
    this.description = description
    this.statusCode = statusCode
  }
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before they go into Basic auth. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1)
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`
}

const errorSchema = z.object({
  error: z.string().min(1).max(200),
  error_description: z.string().max(1000).optional(),
})

/** The endpoint itself, or what the function resolves (discovery); `network_error` when it fails. */
export async function resolveTokenEndpoint(
  tokenEndpoint: string | (() => Promise<string> | string),
  unknownMessage: string,
): Promise<string> {
  try {
    return typeof tokenEndpoint === 'string' ? tokenEndpoint : await tokenEndpoint()
  } catch (cause) {
    throw new TokenExchangeError('network_error', unknownMessage, undefined, { cause })
  }
}

/** An answer that came back (any status), its body read as JSON (`undefined` when it is not). */
export interface TokenEndpointAnswer {
  readonly response: Response
  readonly json: unknown
}

export interface TokenRequest {
  /** The `Authorization` header (`basicAuthorization`). */
  readonly authorization: string
  readonly body: URLSearchParams
  /** More headers (`DPoP`). */
  readonly headers?: Readonly<Record<string, string>>
}

/** Whether a failed token request is sent once more (src/client/retry.ts). */
export interface TokenRequestRetry {
  /** A token request is safe to repeat: it mints at most one more token, never doubles an effect. */
  readonly enabled: boolean
  /** Called before the second attempt, with why (a connection error code or `gateway <status>`). */
  readonly onRetry?: ((reason: RetryReason) => void) | undefined
}

/** Once more only when no instance answered: never on a timeout or any answer the server wrote. */
function retryReason(answer: JsonAnswer): RetryReason | undefined {
  if (!answer.reached) return answer.timedOut ? undefined : connectionErrorCode(answer.cause)
  return isGatewayFailure(answer.response) ? `gateway ${answer.response.status}` : undefined
}

/**
 * POSTs a form to the token endpoint. Resolves to whatever answer came back; throws
 * `network_error` when none did (`peer` names the server in the message: "the token endpoint").
 * `request` is a function when each attempt needs headers of its own (a fresh DPoP proof: a
 * repeated `jti` is refused as a replay).
 */
export async function postTokenRequest(
  fetchImpl: typeof fetch,
  endpoint: string,
  request: TokenRequest | (() => Promise<TokenRequest>),
  timeoutMs: number,
  peer: string,
  retry?: TokenRequestRetry,
): Promise<TokenEndpointAnswer> {
  const send = async () => {
    const { authorization, body, headers } =
      typeof request === 'function' ? await request() : request
    return fetchJson(
      fetchImpl,
      endpoint,
      {
        method: 'POST',
        headers: {
          authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          ...headers,
        },
        body,
      },
      timeoutMs,
    )
  }
  let answer = await send()
  const reason = retry?.enabled ? retryReason(answer) : undefined
  if (reason !== undefined) {
    retry?.onRetry?.(reason)
    answer = await send()
  }
  if (!answer.reached) {
    throw new TokenExchangeError(
      'network_error',
      answer.timedOut ? `no answer from ${peer} within ${timeoutMs} ms` : `${peer} is unreachable`,
      undefined,
      { cause: answer.cause },
    )
  }
  return { response: answer.response, json: answer.json }
}

/** An error status becomes the server's OAuth error, or `invalid_response` without one. */
export function checkTokenEndpointAnswer(answer: TokenEndpointAnswer, peer: string): void {
  const { response, json } = answer
  if (response.ok) return
  const parsed = errorSchema.safeParse(json)
  if (parsed.success) {
    throw new TokenExchangeError(parsed.data.error, parsed.data.error_description, response.status)
  }
  throw new TokenExchangeError(
    'invalid_response',
    `${peer} answered HTTP ${response.status} without an OAuth error`,
    response.status,
  )
}
