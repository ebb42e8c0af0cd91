/**
 * Fastify wrapper over the verifier: reads the bearer token (RFC 6750 §2.1), verifies it, sets
 * `request.accessToken`, and answers failures per RFC 6750 §3 with JSON `{ error,
 * error_description }` and a `WWW-Authenticate` challenge.
 *
 * Only the Authorization header is accepted, exactly once. A token in the query (`access_token`,
 * RFC 6750 §2.3) or in a form body (§2.2) is refused with `invalid_request`, even next to a valid
 * header. Tokens never reach a log; failures log the code and the private detail.
 */
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestAsyncHookHandler,
} from 'fastify'
import fp from 'fastify-plugin'
import { checkScopes } from './checks.js'
import { ResourceAuthError, fromJoseError } from './errors.js'
import type { AccessTokenVerifier, VerifiedAccessToken } from './verifier.js'

export interface RequireBearerOptions {
  readonly verifier: AccessTokenVerifier
  /** Scopes this route needs, on top of the verifier's `requiredScopes`. */
  readonly scopes?: readonly string[]
  /** `realm` of the challenge. */
  readonly realm: string
}

export type BearerHook = onRequestAsyncHookHandler

export interface BearerAuthPluginOptions {
  /** Default realm for `fastify.requireBearer`. */
  readonly realm: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireBearer` once the token passed every check; null before and on failure. */
    accessToken: VerifiedAccessToken | null
    /** Set by `requireBearer` when it refused the request (for audit hooks). */
    accessTokenError: ResourceAuthError | null
  }
  interface FastifyInstance {
    requireBearer(options: Omit<RequireBearerOptions, 'realm'> & { realm?: string }): BearerHook
  }
}

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/
const BEARER_SCHEME = /^bearer(?: +(.*))?$/i
const QUOTABLE = /^[\x20-\x7e]*$/

function invalidRequest(detail: string): never {
  throw new ResourceAuthError('invalid_request', { detail })
}

function countHeader(rawHeaders: readonly string[], name: string): number {
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === name) count++
  }
  return count
}

function hasOwn(value: unknown, key: string): boolean {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, key)
}

/**
 * The bearer token from the one Authorization header. Throws `invalid_request` for a malformed
 * request and a bare 401 (`credentialsSent: false`) when there are no bearer credentials.
 */
export function readBearerToken(request: FastifyRequest): string {
  // Node keeps only the first Authorization header in `headers`; the raw list has them all.
  if (countHeader(request.raw.rawHeaders, 'authorization') > 1) {
    invalidRequest('more than one Authorization header')
  }
  if (new URL(request.url, 'http://localhost').searchParams.has('access_token')) {
    invalidRequest('access token in the query refused')
  }
  if (hasOwn(request.body, 'access_token')) invalidRequest('access token in the body refused')

  const header = request.headers.authorization
  const match = header === undefined ? null : BEARER_SCHEME.exec(header)
  if (!match) {
    throw new ResourceAuthError('invalid_request', {
      detail:
        header === undefined ? 'no Authorization header' : 'Authorization scheme is not Bearer',
      credentialsSent: false,
    })
  }
  const token = match[1]
  if (token === undefined || !B64TOKEN.test(token)) invalidRequest('malformed Bearer credentials')
  return token
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '')}"`
}

/** RFC 6750 §3: the challenge; error attributes only when credentials were sent. */
export function buildChallenge(realm: string, err: ResourceAuthError): string {
  const params = [`realm=${quote(realm)}`]
  if (err.credentialsSent) {
    params.push(`error=${quote(err.error)}`, `error_description=${quote(err.description)}`)
    if (err.requiredScopes.length > 0) params.push(`scope=${quote(err.requiredScopes.join(' '))}`)
  }
  return `Bearer ${params.join(', ')}`
}

/** Answers a refused request. Never includes a stack, the detail or the token. */
export function sendAuthError(
  reply: FastifyReply,
  realm: string,
  err: ResourceAuthError,
): FastifyReply {
  reply.code(err.statusCode).header('cache-control', 'no-store')
  if (err.error === 'temporarily_unavailable') reply.header('retry-after', '5')
  else reply.header('www-authenticate', buildChallenge(realm, err))
  return reply.send({ error: err.error, error_description: err.description })
}

function checkRealm(realm: unknown): string {
  if (
    typeof realm !== 'string' ||
    realm.length === 0 ||
    !QUOTABLE.test(realm) ||
    /["\\]/.test(realm)
  ) {
    throw new TypeError('"realm" must be a non-empty printable ASCII string without quotes')
  }
  return realm
}

/**
 * A hook (for `onRequest` or `preHandler`; use `preHandler` so a token in a form body is seen)
 * that lets through only requests with a valid bearer token.
 *
 * @example
 * app.get('/api/todos', { preHandler: requireBearer({ verifier, realm: 'app-b' }) }, handler)
 */
export function requireBearer(options: RequireBearerOptions): BearerHook {
  const { verifier } = options
  if (typeof verifier !== 'function') throw new TypeError('"verifier" must be a verifier function')
  const realm = checkRealm(options.realm)
  const scopes = Object.freeze([...(options.scopes ?? [])])

  return async function bearerHook(request, reply) {
    request.accessToken = null
    request.accessTokenError = null
    try {
      const token = await verifier(readBearerToken(request))
      checkScopes(token.scopes, scopes)
      request.accessToken = token
    } catch (cause) {
      const err = fromJoseError(cause)
      request.accessTokenError = err
      const entry = { bearerAuth: { outcome: 'denied', error: err.error, detail: err.detail } }
      if (err.statusCode >= 500) request.log.warn(entry, 'bearer token could not be checked')
      else request.log.info(entry, 'bearer token refused')
      return sendAuthError(reply, realm, err)
    }
  }
}

async function bearerAuthPlugin(
  fastify: FastifyInstance,
  options: BearerAuthPluginOptions,
): Promise<void> {
  const defaultRealm = checkRealm(options.realm)
  fastify.decorateRequest('accessToken', null)
  fastify.decorateRequest('accessTokenError', null)
  fastify.decorate(
    'requireBearer',
    (opts: Omit<RequireBearerOptions, 'realm'> & { realm?: string }) =>
      requireBearer({ ...opts, realm: opts.realm ?? defaultRealm }),
  )
}

/** Decorates `request.accessToken`/`accessTokenError` and `fastify.requireBearer(...)`. */
export const bearerAuth = fp(bearerAuthPlugin, { name: 'onbehalf-bearer-auth', fastify: '5.x' })
