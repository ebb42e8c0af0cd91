/**
 * The IdP's lean path for RFC 8693 token exchange: a middie middleware, behind the front door (so
 * the issuer's Host, the body limit and the per-IP limit have applied) and in front of
 * oidc-provider, that answers the common shape of an exchange itself — the same engine grant under
 * the same audited runner — so an exchange does not pay for oidc-provider's Koa chain around an
 * extension grant (body parser, parameter assembly, client lookup, duplicate checks, CORS, error
 * renderer: ≈ a third of the IdP's CPU per exchange in the issue 18 profiles).
 *
 * It takes a request only when everything oidc-provider would check before the grant's handler is
 * known to pass, and answers exactly what oidc-provider would answer after it; anything else goes
 * on to oidc-provider unchanged (the body already read is handed over as `req.body`, which
 * oidc-provider reads when the stream is consumed, as behind the JWT federation middleware):
 * - `POST` to the token endpoint's path (the front door rewrote other spellings), no query string, `Content-Type:
 *   application/x-www-form-urlencoded` without parameters, a `Content-Length` of 1 to `bodyLimit`,
 *   no `Transfer-Encoding`, no `Origin` (CORS answers stay oidc-provider's), an `Accept` that gets
 *   JSON errors, no client attestation headers;
 * - HTTP Basic client authentication (RFC 6749 §2.3.1) decoded as oidc-provider decodes it, naming
 *   a client of the policy whose secret matches (compared in constant time): every failed or
 *   unusual authentication gets oidc-provider's own `invalid_client` / `invalid_request`, and the
 *   per-client limit, when reached, oidc-provider's middleware's 429 — both before the body is read;
 * - a body whose `grant_type` is token exchange, with no other client authentication in it
 *   (`client_secret`, `client_assertion`), a `client_id` absent or the Basic one, no
 *   `authorization_details`, a `scope` of valid characters, and no repeated parameter other than
 *   `audience` and `resource` (RFC 8693 §2.1).
 * The grant sees the parameters oidc-provider would pass it (the grant's own and the client
 * authentication ones; an empty value is absent), the client as `client_secret_basic`, and the
 * `DPoP` proofs with the token endpoint's URL. Answers: 200 with the engine's JSON, or the engine's
 * error as oidc-provider renders it (its `error_description`, the error's own headers, 5xx as
 * `server_error`, an unreachable database as 503 `temporarily_unavailable`), `Cache-Control:
 * no-store` on both; the refusal is logged as oidc-provider's `grant.error` listener logs it, and
 * the per-client limit counts the request once authentication held, as its middleware does.
 *
 * @example
 * ```ts
 * app.use(createTokenExchangeFastPath({ runner, grant, clientSecrets, perClient, issuer, tokenPath, ... }))
 * ```
 */
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { parse as parseQueryString } from 'node:querystring'
import { OAuthError } from '../exchange/errors.js'
import type { GrantRunner } from '../exchange/runner.js'
import type { TokenExchangeGrant } from '../exchange/token_exchange/grant.js'
import type { GrantParams } from '../exchange/types.js'
import type { RateLimiter } from '../limits/rate_limiter.js'
import type { Logger } from '../log/logger.js'
import { isDatabaseUnavailable } from '../storage/postgres.js'
import { headerValues } from './token_exchange_grant.js'

export interface TokenExchangeFastPathOptions {
  readonly runner: GrantRunner
  readonly grant: TokenExchangeGrant
  /** The policy's clients: id → secret (every IdP client authenticates with `client_secret_basic`). */
  readonly clientSecrets: ReadonlyMap<string, string>
  /** The token endpoint's per-client limit, the same limiter oidc-provider's middleware counts in. */
  readonly perClient: RateLimiter
  /** The token endpoint's path as oidc-provider routes it (the front door rewrote other spellings). */
  readonly tokenPath: string
  /** The issuer: the Basic challenge's realm, and with `tokenPath` a DPoP proof's `htu`. */
  readonly issuer: string
  /** Largest body taken (larger goes on to oidc-provider, behind the front door's own limit). */
  readonly bodyLimit: number
  readonly logger: Logger
}

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void

const FORM = 'application/x-www-form-urlencoded'
const DIGITS = /^[1-9][0-9]{0,15}$/
/** oidc-provider's `isValidScope`: RFC 6749 §3.3 scope-tokens, single spaces between. */
const SCOPE_SYNTAX = /^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/u
/** oidc-provider's `noVSCHAR`: client_id and client_secret are RFC 6749 VSCHAR only. */
const NOT_VSCHAR = /[^\x20-\x7E]/
/** `Accept` values for which Koa's `ctx.accepts('json', 'html')` picks JSON. */
const JSON_ACCEPT = /^(?:\*\/\*|application\/json)$/i
/** Body parameters that name another client authentication than HTTP Basic. */
const OTHER_CLIENT_AUTH = ['client_secret', 'client_assertion', 'client_assertion_type'] as const
const DATABASE_UNAVAILABLE_BODY = Object.freeze({
  error: 'temporarily_unavailable',
  error_description: 'the database is unavailable, retry later',
})
const SERVER_ERROR_BODY = Object.freeze({
  error: 'server_error',
  error_description: 'oops! something went wrong',
})
/**
 * What oidc-provider's CORS step sets on every token endpoint answer to a request without `Origin`
 * (its `clientWithDPoP` CORS; oidc-provider's own DPoP feature is off, so no `DPoP-Nonce` there).
 */
const CORS_HEADERS = Object.freeze({
  vary: 'Origin',
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'WWW-Authenticate',
})
const TOO_MANY = Object.freeze({
  error: 'temporarily_unavailable',
  error_description: 'too many requests, retry later',
})

/** oidc-provider's `isValidBase64` for the Basic credentials. */
function isValidBase64(input: string): boolean {
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/u.exec(input)
  if (!match?.[1]) return false
  const remainder = match[1].length % 4
  if (!match[2]) return remainder !== 1
  return (match[1].length + match[2].length) % 4 === 0 && match[2].length === 4 - remainder
}

/** One half of the Basic credentials, form-decoded as oidc-provider decodes it; else undefined. */
function decodeCredential(encoded: string): string | undefined {
  let decoded: string
  try {
    decoded = decodeURIComponent(encoded.replace(/\+/g, '%20'))
  } catch {
    return undefined
  }
  return NOT_VSCHAR.test(decoded) ? undefined : decoded
}

/** The client id and secret of an `Authorization: Basic` header oidc-provider would accept. */
function basicCredentials(
  authorization: string | undefined,
): { clientId: string; secret: string } | undefined {
  if (authorization === undefined) return undefined
  const parts = authorization.split(' ')
  if (parts.length !== 2 || parts[0]!.toLowerCase() !== 'basic' || !isValidBase64(parts[1]!))
    return undefined
  const basic = Buffer.from(parts[1]!, 'base64').toString('utf8')
  const colon = basic.indexOf(':')
  if (colon === -1) return undefined
  const clientId = decodeCredential(basic.slice(0, colon))
  const secret = decodeCredential(basic.slice(colon + 1))
  if (!clientId || !secret) return undefined
  return { clientId, secret }
}

function secretMatches(expected: string, actual: string): boolean {
  const a = Buffer.from(expected)
  const b = Buffer.from(actual)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Whether the request's shape is one this path answers (before any body is read). */
function takesShape(req: IncomingMessage, path: string, bodyLimit: number): number | undefined {
  if (req.method !== 'POST' || req.url !== path) return undefined
  const { headers } = req
  if (headers['content-type']?.toLowerCase() !== FORM) return undefined
  if (headers['transfer-encoding'] !== undefined || headers.origin !== undefined) return undefined
  if (headers.accept !== undefined && !JSON_ACCEPT.test(headers.accept)) return undefined
  if (
    headers['oauth-client-attestation'] !== undefined ||
    headers['oauth-client-attestation-pop'] !== undefined
  )
    return undefined
  const declared = headers['content-length']
  if (declared === undefined || !DIGITS.test(declared)) return undefined
  const length = Number(declared)
  return length <= bodyLimit ? length : undefined
}

/** The body, up to its declared length; undefined when the client went away first. */
function readBody(req: IncomingMessage, length: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (req.destroyed && !req.complete) return resolve(undefined)
    const chunks: Buffer[] = []
    let received = 0
    const done = (body: string | undefined) => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onFailure)
      req.off('close', onClose)
      resolve(body)
    }
    const onData = (chunk: Buffer) => {
      received += chunk.length
      chunks.push(chunk)
    }
    // node:http frames the body by Content-Length; a mismatch cannot end normally.
    const onEnd = () =>
      done(
        received !== length
          ? undefined
          : chunks.length === 1
            ? chunks[0]!.toString('utf8')
            : Buffer.concat(chunks).toString('utf8'),
      )
    const onFailure = () => done(undefined)
    const onClose = () => {
      if (!req.complete) done(undefined)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onFailure)
    req.on('close', onClose)
  })
}

export function createTokenExchangeFastPath(options: TokenExchangeFastPathOptions): Middleware {
  const { runner, grant, clientSecrets, perClient, tokenPath, bodyLimit, logger } = options
  const realm = options.issuer
  // The token endpoint as clients reach it (the front door pins Host to the issuer's), as
  // oidc-provider's `urlFor('token')` gives it.
  const tokenEndpoint = new URL(tokenPath, `${options.issuer}/`).href
  /** The parameters oidc-provider hands the grant: its own, grant_type, client authentication. */
  const grantParameters = [
    'grant_type',
    ...grant.parameters,
    'client_id',
    ...OTHER_CLIENT_AUTH,
  ] as const
  const repeatable = grant.allowedDuplicateParameters

  /**
   * The grant's parameters when oidc-provider would run the grant on this body with this client;
   * undefined when any check before the grant could refuse it (then oidc-provider answers).
   */
  function grantParamsOf(body: Record<string, string | string[] | undefined>, clientId: string) {
    const value = (name: string) => body[name] || undefined
    if (value('grant_type') !== grant.grantType) return undefined
    if (OTHER_CLIENT_AUTH.some((name) => value(name) !== undefined)) return undefined
    const bodyClientId = value('client_id')
    if (bodyClientId !== undefined && bodyClientId !== clientId) return undefined
    if (body.authorization_details !== undefined) return undefined
    const params: Record<string, string | string[] | undefined> = {}
    for (const name of grantParameters) {
      const given = value(name)
      if (Array.isArray(given) && !repeatable.has(name)) return undefined
      params[name] = given
    }
    const scope = params.scope
    if (scope !== undefined && (typeof scope !== 'string' || !SCOPE_SYNTAX.test(scope)))
      return undefined
    return params as GrantParams
  }

  function send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string | string[]> = {},
    cors = true,
  ): void {
    if (res.destroyed || res.headersSent) return
    const payload = JSON.stringify(body)
    res.writeHead(status, {
      ...headers,
      ...(cors ? CORS_HEADERS : undefined),
      'cache-control': 'no-store',
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
    })
    res.end(payload)
  }

  /** The engine's refusal or failure, as oidc-provider's error handler and middleware answer it. */
  function refuse(res: ServerResponse, clientId: string, error: unknown): void {
    if (isDatabaseUnavailable(error)) {
      logger.warn({ err: error }, 'database unavailable')
      return send(res, 503, DATABASE_UNAVAILABLE_BODY, { 'retry-after': '1' })
    }
    if (!(error instanceof OAuthError) || error.statusCode >= 500) {
      logger.error({ err: error }, 'idp server error')
      return send(res, error instanceof OAuthError ? error.statusCode : 500, SERVER_ERROR_BODY)
    }
    logger.info(
      { event: 'grant_error', clientId, error: error.error, detail: error.detail },
      'grant refused',
    )
    const headers: Record<string, string | string[]> = { ...error.headers }
    if (error.statusCode === 401) {
      // oidc-provider's client authentication step adds its Basic challenge to any 401.
      const fields = Object.entries({
        realm,
        error: error.error,
        error_description: error.description,
      })
        .filter(([, field]) => field !== undefined)
        .map(([key, field]) => `${key}="${field!.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)
      const own = headers['www-authenticate'] ?? headers['WWW-Authenticate']
      delete headers['WWW-Authenticate']
      headers['www-authenticate'] = [
        ...(own === undefined ? [] : [own].flat()),
        `Basic ${fields.join(', ')}`,
      ]
    }
    send(
      res,
      error.statusCode,
      error.description === undefined
        ? { error: error.error }
        : { error: error.error, error_description: error.description },
      headers,
    )
  }

  async function exchange(
    req: IncomingMessage,
    res: ServerResponse,
    next: (err?: unknown) => void,
    clientId: string,
    length: number,
  ): Promise<void> {
    let wait: number
    try {
      const retryAfter = perClient.retryAfter(clientId)
      wait = typeof retryAfter === 'number' ? retryAfter : await retryAfter
    } catch {
      // The limiter failed: oidc-provider's middleware meets the same failure and answers it.
      return next()
    }
    if (wait > 0) {
      logger.warn(
        { event: 'token_throttled', limit: 'client', clientId },
        'token request throttled',
      )
      // As oidc-provider's per-client middleware answers: before its routes, so without CORS.
      return send(res, 429, TOO_MANY, { 'retry-after': String(wait) }, false)
    }
    const text = await readBody(req, length)
    if (text === undefined) {
      res.destroy()
      return
    }
    const params = grantParamsOf(parseQueryString(text), clientId)
    if (params === undefined) {
      // Not ours after all: oidc-provider reads the consumed body from `req.body`.
      ;(req as IncomingMessage & { body?: string }).body = text
      return next()
    }
    let answered: unknown
    try {
      answered = await runner.run(grant, {
        params,
        client: { clientId, authMethod: 'client_secret_basic' },
        dpop: { headers: headerValues(req.rawHeaders, 'dpop'), htm: 'POST', htu: tokenEndpoint },
      })
    } catch (error) {
      refuse(res, clientId, error)
      return countRequest(clientId)
    }
    send(res, 200, answered)
    return countRequest(clientId)
  }

  /** The per-client limit counts every request whose client authentication held. */
  async function countRequest(clientId: string): Promise<void> {
    try {
      await perClient.hit(clientId)
    } catch (error) {
      logger.error({ err: error, event: 'limiter_failed', limit: 'client' }, 'rate limiter failed')
    }
  }

  return function tokenExchangeFastPath(req, res, next) {
    const length = takesShape(req, tokenPath, bodyLimit)
    if (length === undefined) return next()
    const credentials = basicCredentials(req.headers.authorization)
    if (credentials === undefined) return next()
    const expected = clientSecrets.get(credentials.clientId)
    if (expected === undefined || !secretMatches(expected, credentials.secret)) return next()
    exchange(req, res, next, credentials.clientId, length).catch((error: unknown) => {
      logger.error({ err: error }, 'idp server error')
      send(res, 500, SERVER_ERROR_BODY)
    })
  }
}
