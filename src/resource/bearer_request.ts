/**
 * The bearer-token side of an HTTP request, framework-free (node:http, Express, anything with
 * `headers`): read the token the RFC 6750 way, verify it, and turn a refusal into the RFC 6750 §3
 * answer. The Fastify plugin (`./bearer_auth.ts`) is a thin wrapper over the same functions.
 *
 * Only the Authorization header is accepted, exactly once. A token in the query (`access_token`,
 * RFC 6750 §2.3) or in a parsed form body (§2.2) is refused with `invalid_request`, even next to a
 * valid header. Answers never carry the token, the private `detail` or a stack.
 */
import type { DpopNonces } from '../jwt/dpop_nonce.js'
import {
  createDpopReplayCache,
  DpopProofError,
  DpopReplayUnavailable,
  readDpopHeader,
  readJktConfirmation,
  verifyDpopProof,
  type DpopReplayCache,
  type VerifiedDpopProof,
} from '../jwt/dpop_proof.js'
import { systemClock, type Clock } from '../time/clock.js'
import { checkScopes } from './checks.js'
import { ResourceAuthError, fromJoseError } from './errors.js'
import type { AccessTokenVerifier, VerifiedAccessToken } from './verifier.js'

/**
 * What is read from a request: a node:http `IncomingMessage` or an Express request fits as it is;
 * Fastify passes `request.headers`, `request.raw.rawHeaders`, `request.url` and `request.body`.
 */
export interface BearerRequest {
  readonly headers: {
    readonly authorization?: string | undefined
    readonly dpop?: string | readonly string[] | undefined
  }
  /** The HTTP method, for the DPoP proof's `htm`. */
  readonly method?: string
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
  /**
   * Accept DPoP-bound tokens (RFC 9449 §7): `Authorization: DPoP <token>` with a `DPoP` proof from
   * the token's key. Without it a bound token is refused whatever the scheme; with or without it a
   * bound token sent as `Bearer` is refused (a stolen bound token is worthless without its key).
   */
  readonly dpop?: DpopResourceOptions
}

export interface DpopResourceOptions {
  /** This server's origin as clients reach it (`https://api.example`): the proof's `htu` base. */
  readonly origin: string
  /** Refuse unbound tokens: only DPoP-bound ones pass. Default false. */
  readonly required?: boolean
  /**
   * Proofs already seen. Default: a cache of this authenticator's own (per process); several
   * instances share one with `createRedisDpopReplayCache`.
   */
  readonly replay?: DpopReplayCache
  /**
   * Demand server-issued nonces (RFC 9449 §9, `createDpopNonces`): a proof without a recent one
   * is answered 401 `use_dpop_nonce` with a fresh nonce in `DPoP-Nonce`. Instances that share
   * the secret accept each other's nonces.
   */
  readonly nonces?: DpopNonces
  /** Seconds a proof is accepted around its `iat`. Default 60. */
  readonly maxAgeSeconds?: number
  /** Algorithms a proof may use. Default `DPOP_ALGORITHMS`. */
  readonly algorithms?: readonly string[]
  /** The clock, for tests. */
  readonly now?: Clock
}

/** Resolves to the verified token, or throws a `ResourceAuthError` (answer it with `bearerErrorResponse`). */
export type BearerAuthenticator = (request: BearerRequest) => Promise<VerifiedAccessToken>

/** The HTTP answer to a refused request (RFC 6750 §3), ready to send as JSON. */
export interface BearerErrorResponse {
  readonly statusCode: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: { readonly error: string; readonly error_description: string }
}

/** The credentials of the Authorization header, by scheme. */
export interface PresentedToken {
  readonly scheme: 'Bearer' | 'DPoP'
  readonly token: string
}

const DPOP_SCHEME = /^dpop(?: +(.*))?$/i

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
  const presented = readPresentedToken(request, false)
  return presented.token
}

/**
 * The access token of the one Authorization header, under `Bearer` or (when `acceptDpop`) `DPoP`.
 * The same refusals as `readBearerToken`.
 */
export function readPresentedToken(request: BearerRequest, acceptDpop: boolean): PresentedToken {
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
  const bearer = header === undefined ? null : BEARER_SCHEME.exec(header)
  const dpop = header === undefined || !acceptDpop ? null : DPOP_SCHEME.exec(header)
  const match = bearer ?? dpop
  if (!match) {
    throw new ResourceAuthError('invalid_request', {
      detail:
        header === undefined ? 'no Authorization header' : 'Authorization scheme is not Bearer',
      credentialsSent: false,
    })
  }
  const scheme = bearer ? 'Bearer' : 'DPoP'
  const token = match[1]
  if (token === undefined || !B64TOKEN.test(token)) {
    throw new ResourceAuthError('invalid_request', {
      detail: `malformed ${scheme} credentials`,
      scheme,
    })
  }
  return { scheme, token }
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
  const checkProof = options.dpop === undefined ? undefined : createDpopCheck(options.dpop)
  return async function authenticateBearer(request) {
    const presented = readPresentedToken(request, checkProof !== undefined)
    let token: VerifiedAccessToken
    try {
      token = await verifier(presented.token)
    } catch (err) {
      const refused = fromJoseError(err)
      // The challenge answers the scheme the client used.
      throw presented.scheme === 'DPoP' && refused.scheme !== 'DPoP'
        ? new ResourceAuthError(refused.error, {
            detail: refused.detail,
            cause: refused.cause,
            requiredScopes: refused.requiredScopes,
            scheme: 'DPoP',
          })
        : refused
    }
    await checkBinding(presented, token, request, checkProof, options.dpop?.required === true)
    checkScopes(token.scopes, scopes)
    return token
  }
}

interface DpopCheck {
  (proof: string, request: BearerRequest, accessToken: string): Promise<VerifiedDpopProof>
  /** The nonce to hand out now, when nonces are demanded. */
  readonly nonce: (() => string) | undefined
}

function createDpopCheck(options: DpopResourceOptions): DpopCheck {
  const origin = URL.parse(options.origin)
  if (origin === null || (origin.protocol !== 'https:' && origin.protocol !== 'http:')) {
    throw new TypeError('"dpop.origin" must be an absolute http(s) URL')
  }
  const replay = options.replay ?? createDpopReplayCache()
  const now = options.now ?? systemClock
  const { nonces } = options
  if (nonces !== undefined && typeof nonces.check !== 'function') {
    throw new TypeError('"dpop.nonces" must come from createDpopNonces')
  }
  const check = (proof: string, request: BearerRequest, accessToken: string) =>
    verifyDpopProof(proof, {
      htm: (request.method ?? 'GET').toUpperCase(),
      htu: new URL(request.url ?? '/', origin).href,
      accessToken,
      now: now(),
      replay,
      ...(nonces === undefined ? {} : { nonces }),
      ...(options.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: options.maxAgeSeconds }),
      ...(options.algorithms === undefined ? {} : { algorithms: options.algorithms }),
    })
  return Object.assign(check, {
    nonce: nonces === undefined ? undefined : () => nonces.current(now()),
  })
}

function dpopRefused(detail: string, cause?: unknown): ResourceAuthError {
  return new ResourceAuthError('invalid_dpop_proof', { detail, cause, scheme: 'DPoP' })
}

/** RFC 9449 §7: the token's binding (`cnf.jkt`) and the scheme and proof it came with agree. */
async function checkBinding(
  presented: PresentedToken,
  token: VerifiedAccessToken,
  request: BearerRequest,
  checkProof: DpopCheck | undefined,
  required: boolean,
): Promise<void> {
  const jkt = readJktConfirmation(token.claims)
  if (presented.scheme === 'Bearer') {
    // A bound token without its proof is exactly what a thief holds (RFC 9449 §7.2).
    if (jkt !== undefined) {
      throw new ResourceAuthError('invalid_token', {
        detail: 'DPoP-bound token presented as a bearer token',
        scheme: checkProof === undefined ? 'Bearer' : 'DPoP',
      })
    }
    if (required) {
      throw new ResourceAuthError('invalid_token', {
        detail: 'only DPoP-bound tokens are accepted',
        scheme: 'DPoP',
      })
    }
    return
  }
  if (checkProof === undefined) throw new Error('DPoP scheme accepted without a DPoP check')
  if (typeof jkt !== 'string') {
    throw new ResourceAuthError('invalid_token', {
      detail: 'DPoP scheme with a token that is not DPoP-bound',
      scheme: 'DPoP',
    })
  }
  const headers = request.headers.dpop
  const values =
    request.rawHeaders !== undefined
      ? dpopHeadersOf(request.rawHeaders)
      : headers === undefined
        ? []
        : typeof headers === 'string'
          ? [headers]
          : [...headers]
  let proof: VerifiedDpopProof
  try {
    const header = readDpopHeader(values)
    if (header === undefined) throw dpopRefused('no DPoP proof with a DPoP-bound token')
    proof = await checkProof(header, request, presented.token)
  } catch (err) {
    if (err instanceof DpopProofError && err.reason === 'nonce' && checkProof.nonce) {
      // RFC 9449 §9: not a bad proof, a missing nonce; the client retries with this one.
      throw new ResourceAuthError('use_dpop_nonce', {
        detail: `DPoP proof nonce ${err.nonce ?? 'missing'}`,
        cause: err,
        scheme: 'DPoP',
        dpopNonce: checkProof.nonce(),
      })
    }
    if (err instanceof DpopProofError) {
      throw dpopRefused(`DPoP proof refused (${err.reason}): ${err.message}`, err)
    }
    if (err instanceof DpopReplayUnavailable) {
      // Fail closed (src/limits/redis_dpop_replay.ts): cannot tell a replay, so cannot accept.
      throw new ResourceAuthError('temporarily_unavailable', {
        detail: 'DPoP replay cache unavailable',
        cause: err,
        scheme: 'DPoP',
      })
    }
    throw err
  }
  if (proof.jkt !== jkt) throw dpopRefused('DPoP proof key is not the key the token is bound to')
}

function dpopHeadersOf(rawHeaders: readonly string[]): string[] {
  const values: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === 'dpop') values.push(rawHeaders[i + 1] ?? '')
  }
  return values
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '')}"`
}

/**
 * RFC 6750 §3 (and RFC 9449 §7.1 for `DPoP`): the challenge; error attributes only when
 * credentials were sent. `dpopAlgorithms` set: the server accepts DPoP, so a request without
 * credentials is told both schemes, and a DPoP challenge names the algorithms (`algs`).
 */
export function buildChallenge(
  realm: string,
  err: ResourceAuthError,
  dpopAlgorithms?: readonly string[],
  /** RFC 9728 §5.1: where this resource's metadata is. */
  resourceMetadata?: string,
): string {
  const params = [`realm=${quote(realm)}`]
  if (resourceMetadata !== undefined) params.push(`resource_metadata=${quote(resourceMetadata)}`)
  if (err.credentialsSent) {
    params.push(`error=${quote(err.error)}`, `error_description=${quote(err.description)}`)
    if (err.requiredScopes.length > 0) params.push(`scope=${quote(err.requiredScopes.join(' '))}`)
  }
  const algs = `algs=${quote((dpopAlgorithms ?? []).join(' '))}`
  if (dpopAlgorithms === undefined) return `Bearer ${params.join(', ')}`
  if (!err.credentialsSent)
    return `Bearer ${params.join(', ')}, DPoP ${[...params, algs].join(', ')}`
  return err.scheme === 'DPoP'
    ? `DPoP ${[...params, algs].join(', ')}`
    : `Bearer ${params.join(', ')}`
}

/** What a challenge advertises besides the realm. */
export interface ChallengeOptions {
  /** DPoP is accepted with these algorithms (RFC 9449 §7.1 `algs`). */
  readonly dpopAlgorithms?: readonly string[]
  /** The RFC 9728 metadata URL (`resource_metadata`). */
  readonly resourceMetadata?: string
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
export function bearerErrorResponse(
  error: unknown,
  realm: string,
  options: ChallengeOptions = {},
): BearerErrorResponse {
  const err = fromJoseError(error)
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  }
  if (err.dpopNonce !== undefined) headers['dpop-nonce'] = err.dpopNonce
  if (err.error === 'temporarily_unavailable') headers['retry-after'] = '5'
  else {
    headers['www-authenticate'] = buildChallenge(
      checkRealm(realm),
      err,
      options.dpopAlgorithms,
      options.resourceMetadata,
    )
  }
  return {
    statusCode: err.statusCode,
    headers,
    body: { error: err.error, error_description: err.description },
  }
}
