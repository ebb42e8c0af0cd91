/**
 * Transaction tokens at a workload (draft-ietf-oauth-transaction-tokens-10; section numbers of
 * draft-10), framework-free: read the one `Txn-Token` header (§12.1), verify it (§12.2) and turn a
 * refusal into a JSON answer. The Fastify hook is `requireTxnToken` in `./txn_token_auth.ts`.
 *
 * `createTxnTokenVerifier` checks, in order: size → compact JWS with pinned algorithms and the
 * Txn-Token Service's keys (§12.2 "Validate the Txn-Token JWS signature"; no `none`/HS*, keys never
 * from the token) → `typ: txntoken+jwt` (§9.1, so an access token cannot pass as a txn token) →
 * `iss` the service → `aud` exactly the workload's trust domain (§9.2, §12.2: MUST NOT be accepted
 * outside it) → `exp` not passed (§12.2), `iat` present → `txn`, `sub`, `scope`, `req_wl` present
 * (§9.2 REQUIRED) → `tctx`/`rctx` objects when present → the route's policy: scopes (the purpose)
 * and which requesting workloads (`req_wl`) may start the calls it serves.
 *
 * Faults are `invalid_token` 401, policy refusals `insufficient_scope` 403, a malformed header
 * (two `Txn-Token` headers, §12.1 "exactly one") `invalid_request` 400, keys that cannot be
 * fetched `temporarily_unavailable` 503. There is no `WWW-Authenticate` challenge: the draft
 * registers no authentication scheme, a txn token is not a credential (§13.12).
 *
 * @example
 * ```ts
 * const verifyTxn = createTxnTokenVerifier({
 *   issuer: 'http://localhost:9100',
 *   trustDomain: 'onbehalf.local',
 *   jwksUri: 'http://localhost:9100/jwks',
 * })
 * const txn = await verifyTxn(readTxnToken(request)) // throws ResourceAuthError
 * console.log(txn.txn, txn.sub, txn.reqWl)
 * ```
 */
import type { JWTPayload } from 'jose'
import { readAudienceClaim } from '../jwt/access_token_claims.js'
import { createJwsVerifier, type KeyResolver } from '../jws/verify_jws.js'
import { DEFAULT_KEY_CACHE } from '../keys/remote_jwks.js'
import type { Logger } from '../log/logger.js'
import { systemClock, type Clock } from '../time/clock.js'
import { parseScopes } from './checks.js'
import { fromJoseError, ResourceAuthError } from './errors.js'
import { createKeySource, verifySignedToken } from './signed_token.js'

/** §12.1: the header name (HTTP field names compare case-insensitively). */
export const TXN_TOKEN_HEADER = 'txn-token'
export const TXN_TOKEN_TYP = 'txntoken+jwt'

export interface TxnTokenVerifierOptions {
  /** `iss` of the Txn-Token Service, exactly. */
  readonly issuer: string
  /** This workload's trust domain: the only `aud` accepted. */
  readonly trustDomain: string
  /** The service's JWKS. Exactly one of `jwksUri` and `keyResolver`. */
  readonly jwksUri?: string | URL
  readonly keyResolver?: KeyResolver
  /** Pinned signature algorithms; asymmetric only. Default `['ES256']`. */
  readonly algorithms?: readonly string[]
  /** For `exp`; default 5 (txn tokens live seconds, so the tolerance stays small). At most 60. */
  readonly clockToleranceSeconds?: number
  /** Scopes (purposes) every txn token must carry. */
  readonly requiredScopes?: readonly string[]
  /** Workloads (`req_wl`) whose transactions are accepted. Omitted: any the service vouches for. */
  readonly allowedWorkloads?: readonly string[]
  readonly logger?: Logger
  /** Called once per failed fetch of the `jwksUri` key set (after its retries): for a metric. */
  readonly onKeyFetchFailure?: () => void
  /** The clock, for tests. */
  readonly now?: Clock
}

export interface VerifiedTxnToken {
  /** §9.2: the transaction, the same across the whole call chain. */
  readonly txn: string
  /** The principal of the transaction. */
  readonly sub: string
  readonly scopes: readonly string[]
  /** The workload that requested this txn token. */
  readonly reqWl: string
  /** Workloads that requested earlier tokens of the transaction (replacements), oldest first. */
  readonly reqWlChain: readonly string[]
  readonly tctx: Readonly<Record<string, unknown>>
  readonly rctx: Readonly<Record<string, unknown>>
  readonly iat: number
  readonly exp: number
  readonly claims: Readonly<JWTPayload>
}

export type TxnTokenVerifier = ((token: string) => Promise<VerifiedTxnToken>) & {
  readonly issuer: string
  readonly trustDomain: string
}

/** A request as node:http, Express or Fastify (`request.headers` + `request.raw.rawHeaders`) has it. */
export interface TxnTokenRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly rawHeaders?: readonly string[]
}

/** Compact JWS: three base64url parts. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const REQUIRED_CLAIMS = ['exp', 'iat', 'txn', 'sub', 'scope', 'req_wl']

function asTxnError(err: ResourceAuthError): ResourceAuthError {
  return new ResourceAuthError(err.error, {
    detail: err.detail,
    cause: err.cause,
    requiredScopes: err.requiredScopes,
    credential: 'txn_token',
  })
}

function refuse(
  error: 'invalid_request' | 'invalid_token' | 'insufficient_scope',
  detail: string,
  extra: { requiredScopes?: readonly string[]; credentialsSent?: boolean } = {},
): never {
  throw new ResourceAuthError(error, { detail, credential: 'txn_token', ...extra })
}

function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || /\s/.test(value)) {
    throw new TypeError(`"${name}" must be a non-empty string without whitespace`)
  }
  return value
}

function checkList(name: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw new TypeError(`"${name}" must be an array of strings`)
  return value.map((item) => checkString(name, item))
}

/**
 * §12.1: the value of the one `Txn-Token` header. Two headers are `invalid_request`; none is a
 * bare 401 (`credentialsSent: false`). A txn token in `Authorization` is never looked at here:
 * the draft forbids that header for txn tokens, and the bearer verifier refuses its `typ`.
 */
export function readTxnToken(request: TxnTokenRequest): string {
  let count = 0
  for (let i = 0; i < (request.rawHeaders?.length ?? 0); i += 2) {
    if (request.rawHeaders![i]?.toLowerCase() === TXN_TOKEN_HEADER) count++
  }
  const value = request.headers[TXN_TOKEN_HEADER]
  if (count > 1 || Array.isArray(value) || (typeof value === 'string' && value.includes(','))) {
    refuse('invalid_request', 'more than one Txn-Token header (draft §12.1: exactly one)')
  }
  if (value === undefined || value === '') {
    refuse('invalid_token', 'no Txn-Token header', { credentialsSent: false })
  }
  const token = value.trim()
  if (!COMPACT_JWS.test(token)) refuse('invalid_request', 'Txn-Token header is not a compact JWS')
  return token
}

function readObjectClaim(claims: JWTPayload, name: string): Readonly<Record<string, unknown>> {
  const value = claims[name]
  if (value === undefined) return Object.freeze({})
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    refuse('invalid_token', `claim ${name} is not a JSON object`)
  }
  return Object.freeze({ ...(value as Record<string, unknown>) })
}

/**
 * Checks the options once (a `TypeError` on misuse) and returns the verifier.
 *
 * @example
 * ```ts
 * const verifyTxn = createTxnTokenVerifier({ issuer, trustDomain: 'onbehalf.local', jwksUri,
 *   requiredScopes: ['todos:write'], allowedWorkloads: ['app-b'] })
 * ```
 */
export function createTxnTokenVerifier(options: TxnTokenVerifierOptions): TxnTokenVerifier {
  if (typeof options !== 'object' || options === null) throw new TypeError('options required')
  const issuer = checkString('issuer', options.issuer)
  const trustDomain = checkString('trustDomain', options.trustDomain)
  const algorithms = checkList('algorithms', options.algorithms ?? ['ES256'])
  if (algorithms.length === 0) throw new TypeError('"algorithms" must not be empty')
  for (const alg of algorithms) {
    if (alg === 'none' || alg.startsWith('HS')) {
      throw new TypeError(`"algorithms" must not contain ${alg}`)
    }
  }
  const tolerance = options.clockToleranceSeconds ?? 5
  if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance > 60) {
    throw new TypeError('"clockToleranceSeconds" must be a number from 0 to 60')
  }
  const requiredScopes = Object.freeze(checkList('requiredScopes', options.requiredScopes ?? []))
  const allowedWorkloads =
    options.allowedWorkloads === undefined
      ? undefined
      : new Set(checkList('allowedWorkloads', options.allowedWorkloads))
  const now = options.now ?? systemClock
  if (typeof now !== 'function') throw new TypeError('"now" must be a function')
  const jws = createJwsVerifier({
    algorithms,
    resolveKey: createKeySource(options, issuer, algorithms, DEFAULT_KEY_CACHE),
  })

  async function verifyTxnToken(token: string): Promise<VerifiedTxnToken> {
    let claims: JWTPayload
    try {
      ;({ claims } = await verifySignedToken(
        jws,
        token,
        {
          typ: TXN_TOKEN_TYP,
          issuer,
          audience: trustDomain,
          requiredClaims: REQUIRED_CLAIMS,
          optionalStringClaims: ['jti'],
          clockToleranceSeconds: tolerance,
          now: Math.floor(now()),
        },
        'txn token',
      ))
    } catch (err) {
      throw asTxnError(fromJoseError(err))
    }
    // §9.2: `aud` identifies the one trust domain; a token naming others too is not ours alone.
    if (readAudienceClaim(claims.aud).some((aud) => aud !== trustDomain)) {
      refuse('invalid_token', 'aud names another trust domain')
    }
    const chain = claims.req_wl_chain ?? []
    if (!Array.isArray(chain) || !chain.every((item) => typeof item === 'string')) {
      refuse('invalid_token', 'claim req_wl_chain is not an array of strings')
    }
    let scopes: string[]
    try {
      scopes = parseScopes(claims)
    } catch (err) {
      throw asTxnError(fromJoseError(err))
    }
    const tctx = readObjectClaim(claims, 'tctx')
    const rctx = readObjectClaim(claims, 'rctx')
    const reqWl = claims.req_wl as string
    if (allowedWorkloads !== undefined && !allowedWorkloads.has(reqWl)) {
      refuse('insufficient_scope', `requesting workload ${reqWl} is not allowed`)
    }
    const missing = requiredScopes.filter((scope) => !scopes.includes(scope))
    if (missing.length > 0) {
      refuse('insufficient_scope', `txn token lacks scope ${missing.join(' ')}`, {
        requiredScopes,
      })
    }
    return Object.freeze({
      txn: claims.txn as string,
      sub: claims.sub as string,
      scopes: Object.freeze(scopes),
      reqWl,
      reqWlChain: Object.freeze([...(chain as string[])]),
      tctx,
      rctx,
      iat: claims.iat as number,
      exp: claims.exp as number,
      claims: Object.freeze(claims),
    })
  }

  return Object.defineProperties(verifyTxnToken, {
    issuer: { value: issuer, enumerable: true },
    trustDomain: { value: trustDomain, enumerable: true },
  }) as TxnTokenVerifier
}

/** The answer to a refused txn token: status, `Cache-Control: no-store`, the JSON body. */
export function txnTokenErrorResponse(error: unknown): {
  readonly statusCode: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: { readonly error: string; readonly error_description: string }
} {
  const err =
    error instanceof ResourceAuthError && error.credential === 'txn_token'
      ? error
      : asTxnError(fromJoseError(error))
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  }
  if (err.error === 'temporarily_unavailable') headers['retry-after'] = '5'
  return {
    statusCode: err.statusCode,
    headers,
    body: { error: err.error, error_description: err.description },
  }
}
