/**
 * The STS's lean path for `POST /token`: a node:http request handler in front of Fastify that
 * answers the common shape of a token request itself, so an exchange does not pay for Fastify's
 * request pipeline (router, hooks, content-type parser, reply) — ≈ 60–80 µs of CPU per request
 * on the bench machine, next to an exchange whose own work is ≈ 180 µs.
 *
 * It takes a request only when it is exactly `POST /token` (no query string), `Content-Type:
 * application/x-www-form-urlencoded`, a `Content-Length` of 1 to `bodyLimit` bytes and no
 * `Transfer-Encoding`, the app is not closing and the client IP needs no proxy rules. Everything
 * else goes to Fastify unchanged (other routes and methods, other media types, charset
 * parameters, chunked or oversized or empty bodies), so every refusal Fastify's route gives today
 * stays Fastify's.
 *
 * What it does is what the Fastify route does, in the same order, through the same functions
 * (src/sts/app.ts passes them in): the request's trace context (its `x-request-id`,
 * `traceparent`) around everything, the per-IP limit before the body is read (429 with
 * `Retry-After`), the body read up to its declared length and parsed by the parser
 * @fastify/formbody uses (fast-querystring: a repeated parameter becomes a list, which the engine
 * refuses), the same client authentication and grant runner (one audit line per decision), the
 * same RFC 6749 §5.1/§5.2 answer (`Cache-Control: no-store`, `Pragma: no-cache`, the error's own
 * headers such as `WWW-Authenticate` and `DPoP-Nonce`), and the token latency metric. A client
 * that goes away before its body is complete gets nothing, and no engine call is made.
 *
 * @example
 * ```ts
 * const fast = createTokenFastPath({ bodyLimit, answer, refuse, throttle, limiter, ... })
 * http.createServer((req, res) => { if (!fast(req, res)) fastifyHandler(req, res) })
 * ```
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import { parse as parseForm } from 'fast-querystring'
import type { GrantParams } from '../exchange/index.js'
import type { RateLimiter } from '../limits/rate_limiter.js'
import { runInRequestTrace } from '../log/request_context.js'

/** One answer of the token endpoint: status, headers (beside the no-store ones) and JSON body. */
export interface TokenAnswer {
  readonly statusCode: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
}

export interface TokenFastPathOptions {
  /** Largest body taken, in bytes (the same limit as Fastify's parser; larger goes to Fastify). */
  readonly bodyLimit: number
  /** The per-IP abuse limit the Fastify route's `onRequest` hook applies. */
  readonly limiter: RateLimiter
  /** The 429 answer (and its log line) for a client that must wait `seconds`. */
  readonly throttled: (seconds: number) => TokenAnswer
  /** The route's work: client authentication and the grant; throws the route's errors. */
  readonly answer: (
    body: GrantParams,
    authorization: string | undefined,
    rawHeaders: readonly string[],
  ) => Promise<unknown>
  /** Any error thrown above, as the route's error handler answers (and logs) it. */
  readonly refuse: (error: unknown) => TokenAnswer
  /** A body that could not be read (the client went away): logged as the route logs it. */
  readonly unreadable: (error: unknown) => void
  /** The token endpoint's latency metric, when metrics are on. */
  readonly latency?: (seconds: number, status: number) => void
  /** True once the app is closing: requests then go to Fastify, which answers 503. */
  readonly closing: () => boolean
}

const FORM = 'application/x-www-form-urlencoded'
const ignore = () => {}
const DIGITS = /^[1-9][0-9]{0,15}$/

/** Returns the handler: true when it took the request, false when Fastify must answer it. */
export function createTokenFastPath(
  options: TokenFastPathOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { bodyLimit, limiter, throttled, answer, refuse, unreadable, latency, closing } = options

  function send(res: ServerResponse, reply: TokenAnswer): void {
    if (res.destroyed || res.headersSent) return
    const payload = JSON.stringify(reply.body)
    const headers: Record<string, string | number> = {
      'cache-control': 'no-store',
      pragma: 'no-cache',
    }
    for (const [name, value] of Object.entries(reply.headers)) headers[name.toLowerCase()] = value
    headers['content-type'] = 'application/json; charset=utf-8'
    headers['content-length'] = Buffer.byteLength(payload)
    res.writeHead(reply.statusCode, headers)
    res.end(payload)
  }

  /** The body, up to its declared length; undefined when the client went away first. */
  function readBody(req: IncomingMessage, length: number): Promise<string | undefined> {
    // Stream events run outside the request's trace context: the log line re-enters it (the
    // trace is kept on the request, so this costs nothing on the path that succeeds).
    const failed = (error: unknown) => runInRequestTrace(req, () => unreadable(error))
    return new Promise((resolve) => {
      if (req.destroyed && !req.complete) {
        failed(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
        resolve(undefined)
        return
      }
      const chunks: Buffer[] = []
      let received = 0
      const done = (body: string | undefined, error?: unknown) => {
        req.off('data', onData)
        req.off('end', onEnd)
        req.off('error', onError)
        req.off('close', onClose)
        if (error !== undefined) failed(error)
        resolve(body)
      }
      const onData = (chunk: Buffer) => {
        received += chunk.length
        chunks.push(chunk)
      }
      const onEnd = () => {
        // node:http frames the body by Content-Length; a mismatch cannot end normally.
        if (received !== length) done(undefined, new Error('body length mismatch'))
        else done(chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks).toString())
      }
      const onError = (error: unknown) => done(undefined, error)
      const onClose = () => {
        if (!req.complete)
          done(undefined, Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
      }
      req.on('data', onData)
      req.on('end', onEnd)
      req.on('error', onError)
      req.on('close', onClose)
    })
  }

  async function handle(req: IncomingMessage, res: ServerResponse, length: number) {
    const ip = req.socket.remoteAddress ?? ''
    try {
      const wait = await limiter.retryAfter(ip)
      if (wait > 0) return send(res, throttled(wait))
      await limiter.hit(ip)
    } catch (error) {
      return send(res, refuse(error))
    }
    const text = await readBody(req, length)
    if (text === undefined) {
      res.destroy()
      return
    }
    try {
      const body = parseForm(text) as GrantParams
      const authorization = req.headers.authorization
      send(res, {
        statusCode: 200,
        headers: {},
        body: await answer(body, authorization, req.rawHeaders),
      })
    } catch (error) {
      send(res, refuse(error))
    }
  }

  return (req, res) => {
    if (req.method !== 'POST' || req.url !== '/token' || closing()) return false
    const { headers } = req
    if (headers['content-type'] !== FORM || headers['transfer-encoding'] !== undefined) return false
    const declared = headers['content-length']
    if (declared === undefined || !DIGITS.test(declared)) return false
    const length = Number(declared)
    if (length > bodyLimit) return false
    if (latency !== undefined) {
      const start = performance.now()
      res.once('finish', () => latency((performance.now() - start) / 1000, res.statusCode))
    }
    // An abort while the limiter is asked must not be an unhandled 'error' event.
    req.on('error', ignore)
    runInRequestTrace(req, () => {
      void handle(req, res, length)
    })
    return true
  }
}

/**
 * The HTTP server Fastify would make (its `serverFactory` contract, the same timeouts), with
 * `first` tried on every request before Fastify's own handler.
 */
export function createServerWithFastPath(
  fastify: (req: IncomingMessage, res: ServerResponse) => void,
  settings: {
    readonly keepAliveTimeout?: number
    readonly requestTimeout?: number
    readonly connectionTimeout?: number
    readonly maxRequestsPerSocket?: number
  },
  first: (req: IncomingMessage, res: ServerResponse) => boolean,
): Server {
  const server = createServer((req, res) => {
    if (!first(req, res)) fastify(req, res)
  })
  if (settings.keepAliveTimeout !== undefined) server.keepAliveTimeout = settings.keepAliveTimeout
  if (settings.requestTimeout !== undefined) server.requestTimeout = settings.requestTimeout
  server.setTimeout(settings.connectionTimeout ?? 0)
  if (settings.maxRequestsPerSocket !== undefined && settings.maxRequestsPerSocket > 0) {
    server.maxRequestsPerSocket = settings.maxRequestsPerSocket
  }
  return server
}
