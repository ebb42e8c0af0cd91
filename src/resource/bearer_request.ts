/**
 * The bearer-token side of an HTTP request, framework-free (node:http, Express, anything with
 * `headers`): read the token the RFC 6750 way, verify it, and turn a refusal into the RFC 6750 §3
 * answer. The Fastify plugin (`./bearer_auth.ts`) is a thin wrapper over the same functions.
 *
 * Only the Authorization header is accepted, exactly once. A token in the query (`access_token`,
 * RFC 6750 §2.3) or in a parsed form body (§2.2) is refused with `invalid_request`, even next to a
 * valid header. Answers never carry the token, the private `detail` or a stack.
 */
import { checkScopes } from './checks.js'
import { ResourceAuthError, fromJoseError } from './errors.js'
import type { AccessTokenVerifier, VerifiedAccessToken } from './verifier.js'

/**
 * What is read from a request: a node:http `IncomingMessage` or an Express request fits as it is;
 * Fastify passes `request.headers`, `request.raw.rawHeaders`, `request.url` and `request.body`.
 */
export interface BearerRequest {
  readonly headers: { readonly authorization?: string | undefined }
  /** Every header as received (node:http `rawHeaders`), to refuse a repeated Authorization header. */
  readonly rawHeaders?: readonly string[]
  /** Path and query, to refuse `?access_token=`. */
  readonly url?: string
  /** The parsed body, when a framework parsed one, to refuse `access_token` in a form. */
  readonly body?: unknown
}

export interface BearerAuthenticatorOptions {
  readonly verifier: AccessTokenVerifier
  /** Scopes this route needs, on top of the verifier's `requiredScopes`. */
  readonly scopes?: readonly string[]
}

/** Resolves to the verified token, or throws a `ResourceAuthError` (answer it with `bearerErrorResponse`). */
export type BearerAuthenticator = (request: BearerRequest) => Promise<VerifiedAccessToken>

/** The HTTP answer to a refused request (RFC 6750 §3), ready to send as JSON. */
export interface BearerErrorResponse {
  readonly statusCode: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: { readonly error: string; readonly error_description: string }
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
export function readBearerToken(request: BearerRequest): string {
  // Node keeps only the first Authorization header in `headers`; the raw list has them all.
  if (request.rawHeaders !== undefined && countHeader(request.rawHeaders, 'authorization') > 1) {
    invalidRequest('more than one Authorization header')
  }
  if (
    request.url !== undefined &&
    new URL(request.url, 'http://localhost').searchParams.has('access_token')
  ) {
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

/**
 * Reads and verifies the bearer token of a request, then checks the route's scopes.
 *
 * @example
 * ```ts
 * const authenticate = createBearerAuthenticator({ verifier, scopes: ['orders:read'] })
 * createServer(async (request, response) => {
 *   try {
 *     const token = await authenticate(request)
 *     response.end(`hello ${token.sub}, called by ${token.caller}`)
 *   } catch (error) {
 *     const { statusCode, headers, body } = bearerErrorResponse(error, 'orders')
 *     response.writeHead(statusCode, headers).end(JSON.stringify(body))
 *   }
 * })
 * ```
 */
export function createBearerAuthenticator(
  options: BearerAuthenticatorOptions,
): BearerAuthenticator {
  const { verifier } = options
  if (typeof verifier !== 'function') throw new TypeError('"verifier" must be a verifier function')
  const scopes = Object.freeze([...(options.scopes ?? [])])
  return async function authenticateBearer(request) {
    const token = await verifier(readBearerToken(request))
    checkScopes(token.scopes, scopes)
    return token
  }
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

/** Checks a `realm` once, at start-up: it is sent inside a quoted string. */
export function checkRealm(realm: unknown): string {
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
 * The answer to a request the authenticator refused: status, `WWW-Authenticate` (or `Retry-After`
 * when the keys could not be fetched), `Cache-Control: no-store`, and the JSON body. Anything that
 * is not a `ResourceAuthError` is mapped as the verifier maps key-set faults (503).
 *
 * @example
 * ```ts
 * const { statusCode, headers, body } = bearerErrorResponse(error, 'orders')
 * response.writeHead(statusCode, headers).end(JSON.stringify(body))
 * ```
 */
export function bearerErrorResponse(error: unknown, realm: string): BearerErrorResponse {
  const err = fromJoseError(error)
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  }
  if (err.error === 'temporarily_unavailable') headers['retry-after'] = '5'
  else headers['www-authenticate'] = buildChallenge(checkRealm(realm), err)
  return {
    statusCode: err.statusCode,
    headers,
    body: { error: err.error, error_description: err.description },
  }
}
