/**
 * The one verification path for JWT access tokens presented to the engine (RFC 9068, RFC 8725),
 * shared by subject and actor tokens. Checks in jose's fixed order, claims read only after the
 * signature holds: signature (pinned algorithms, our keys) → `typ` is `at+jwt` → not another kind
 * of JWT (ID token, logout token) → required claims → `iss` trusted → `exp`/`nbf`/`iat` with clock
 * skew → `act`/`may_act` well-formed → still active (injected status check).
 *
 * Every failure is `invalid_request` with one fixed description per role (`subject_token is
 * invalid`, `actor_token is invalid`); the precise reason is in `detail` (lessons S3, S19, S20).
 * Keys that cannot be fetched right now are `temporarily_unavailable` 503 instead: no verdict.
 */
import {
  ACTOR_TOKEN_INVALID,
  InvalidRequest,
  SUBJECT_TOKEN_INVALID,
  TemporarilyUnavailable,
} from './errors.js'
import { issuerProfileFor, NOT_ACCESS_TOKEN_CLAIMS, type IssuerProfile } from './issuer_profile.js'
import { JwsVerificationError, type JwsHeader, type JwsVerifier } from '../jws/verify_jws.js'
import type { ExchangePolicy } from './policy.js'
import type { ActClaim, JwtClaims, MayActClaim, VerifiedToken } from './types.js'

export type TokenRole = 'subject' | 'actor'

/**
 * Whether a verified token is still live. For the embedded IdP: the token was issued by us, is not
 * revoked, and its grant still exists. Return false to refuse; throwing is a server error.
 */
export interface TokenStatus {
  isActive(token: VerifiedToken): Promise<boolean>
}

export interface TokenValidationDeps {
  readonly verifier: JwsVerifier
  readonly subjectStatus: TokenStatus
  readonly policy: Pick<
    ExchangePolicy,
    'issuer' | 'trustedIssuers' | 'clockSkewSeconds' | 'clients'
  > &
    Partial<Pick<ExchangePolicy, 'issuers'>>
  /** Current time in whole seconds. */
  readonly now: number
}

const MAX_ACT_NESTING = 32

export function tokenInvalid(role: TokenRole, detail: string, cause?: unknown): InvalidRequest {
  return new InvalidRequest({
    description: role === 'subject' ? SUBJECT_TOKEN_INVALID : ACTOR_TOKEN_INVALID,
    detail: `${role} token ${detail}`,
    cause,
  })
}

export async function verifyAccessToken(
  compact: string,
  role: TokenRole,
  deps: TokenValidationDeps,
): Promise<VerifiedToken> {
  let header: JwsHeader
  let payload: JwtClaims
  try {
    ;({ header, payload } = await deps.verifier.verify(compact))
  } catch (err) {
    if (err instanceof JwsVerificationError) {
      // Keys that cannot be fetched are the server's problem, not the token's: "retry later",
      // never "invalid", so a client does not discard a good token.
      if (err.reason === 'key_unavailable') {
        throw new TemporarilyUnavailable({
          description: `${role}_token cannot be verified right now, retry later`,
          detail: `${role} token cannot be verified: ${err.message}`,
          cause: err,
        })
      }
      throw tokenInvalid(role, `failed JWS verification: ${err.reason}`, err)
    }
    throw err
  }
  // The signature holds, so `iss` is the issuer whose key verified it: its profile applies.
  const profile = issuerProfileFor(deps.policy.issuers, payload.iss)
  checkAccessTokenType(header, role, profile.acceptedTypes)
  checkNotOtherJwtKind(payload, role, profile.notAccessTokenClaims)
  const claims = readRequiredClaims(payload, role, profile)
  checkIssuerTrusted(claims.iss, deps.policy.trustedIssuers, role)
  const nbf = payload.nbf === undefined ? undefined : readNumericDate(payload, 'nbf', role)
  checkTokenTimes(
    { exp: claims.exp, iat: claims.iat, nbf },
    deps.now,
    deps.policy.clockSkewSeconds,
    role,
  )

  const verified: VerifiedToken = Object.freeze({
    token: Object.freeze({ ...payload }),
    sub: claims.sub,
    iss: claims.iss,
    aud: claims.aud,
    clientId: claims.clientId,
    azp: readOptionalString(payload, 'azp', role),
    scopes: readScopes(payload, role, profile),
    exp: claims.exp,
    jti: claims.jti,
    act: payload.act === undefined ? undefined : parseActClaim(payload.act, role),
    mayAct: payload.may_act === undefined ? undefined : parseMayActClaim(payload.may_act, role),
  })
  if (!(await deps.subjectStatus.isActive(verified))) {
    throw tokenInvalid(role, 'is not active (unknown, revoked or its grant ended)')
  }
  return verified
}

/**
 * RFC 9068 §2.1 / §4: `typ` must be `at+jwt` (or `application/at+jwt`); ID tokens carry `JWT`.
 * An issuer profile may accept other values (`accepted` is lower case).
 */
export function checkAccessTokenType(
  header: JwsHeader,
  role: TokenRole,
  accepted: readonly string[] = ['at+jwt', 'application/at+jwt'],
): void {
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined
  if (typ === undefined || !accepted.includes(typ)) {
    throw tokenInvalid(
      role,
      `has typ ${JSON.stringify(header.typ ?? null)}, expected ${accepted.join(' or ')}`,
    )
  }
}

/** Lesson S3: a logout token (`events`) or ID token (`nonce`, `*_hash`) never passes as an access token. */
export function checkNotOtherJwtKind(
  payload: JwtClaims,
  role: TokenRole,
  markers: readonly string[] = NOT_ACCESS_TOKEN_CLAIMS,
): void {
  for (const claim of markers) {
    if (payload[claim] !== undefined) {
      throw tokenInvalid(role, `carries ${claim}: not an access token`)
    }
  }
}

interface RequiredClaims {
  iss: string
  sub: string
  aud: readonly string[]
  exp: number
  iat: number
  jti: string
  clientId: string
}

/**
 * RFC 9068 §2.2: `iss exp aud sub client_id iat jti` are required (`sub`, `client_id` and `jti`
 * read from the claims the issuer's profile names).
 */
function readRequiredClaims(
  payload: JwtClaims,
  role: TokenRole,
  profile: IssuerProfile,
): RequiredClaims {
  const iss = readString(payload, 'iss', role)
  const sub = readString(payload, profile.claims.sub, role)
  const aud = readAudience(payload, role)
  const exp = readNumericDate(payload, 'exp', role)
  const iat = readNumericDate(payload, 'iat', role)
  const jti = readString(payload, profile.claims.jti, role)
  const clientId = readString(payload, profile.claims.clientId, role)
  return { iss, sub, aud, exp, iat, jti, clientId }
}

export function checkIssuerTrusted(iss: string, trusted: readonly string[], role: TokenRole): void {
  if (!trusted.includes(iss)) throw tokenInvalid(role, 'issuer is not trusted')
}

/** RFC 7519 §4.1.4–4.1.6 with a clock tolerance; an `iat` in the future is refused too. */
export function checkTokenTimes(
  times: { readonly exp: number; readonly iat: number; readonly nbf: number | undefined },
  now: number,
  skew: number,
  role: TokenRole,
): void {
  const { exp, iat, nbf } = times
  if (exp <= now - skew) throw tokenInvalid(role, 'expired')
  if (nbf !== undefined && nbf > now + skew) throw tokenInvalid(role, 'is not yet valid (nbf)')
  if (iat > now + skew) throw tokenInvalid(role, 'was issued in the future (iat)')
}

/** RFC 8693 §4.1: `{ sub, iss?, act? }` per level; other members are dropped. */
export function parseActClaim(value: unknown, role: TokenRole, depth = 1): ActClaim {
  if (depth > MAX_ACT_NESTING) throw tokenInvalid(role, 'act claim is nested too deeply')
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw tokenInvalid(role, 'act claim is not an object')
  }
  const record = value as Record<string, unknown>
  if (typeof record.sub !== 'string' || record.sub === '') {
    throw tokenInvalid(role, 'act claim has no sub')
  }
  if (record.iss !== undefined && typeof record.iss !== 'string') {
    throw tokenInvalid(role, 'act claim iss is not a string')
  }
  const act: { sub: string; iss?: string; act?: ActClaim } = { sub: record.sub }
  if (record.iss !== undefined) act.iss = record.iss
  if (record.act !== undefined) act.act = parseActClaim(record.act, role, depth + 1)
  return Object.freeze(act)
}

/** RFC 8693 §4.4: `{ sub?, iss? }`, at least one of them. */
export function parseMayActClaim(value: unknown, role: TokenRole): MayActClaim {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw tokenInvalid(role, 'may_act claim is not an object')
  }
  const record = value as Record<string, unknown>
  const mayAct: { sub?: string; iss?: string } = {}
  for (const name of ['sub', 'iss'] as const) {
    const member = record[name]
    if (member === undefined) continue
    if (typeof member !== 'string' || member === '') {
      throw tokenInvalid(role, `may_act ${name} is not a string`)
    }
    mayAct[name] = member
  }
  if (mayAct.sub === undefined && mayAct.iss === undefined) {
    throw tokenInvalid(role, 'may_act claim names nobody')
  }
  return Object.freeze(mayAct)
}

function readString(payload: JwtClaims, name: string, role: TokenRole): string {
  const value = payload[name]
  if (value === undefined) throw tokenInvalid(role, `is missing ${name}`)
  if (typeof value !== 'string' || value === '') throw tokenInvalid(role, `has a malformed ${name}`)
  return value
}

function readOptionalString(payload: JwtClaims, name: string, role: TokenRole): string | undefined {
  return payload[name] === undefined ? undefined : readString(payload, name, role)
}

function readNumericDate(payload: JwtClaims, name: string, role: TokenRole): number {
  const value = payload[name]
  if (value === undefined) throw tokenInvalid(role, `is missing ${name}`)
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw tokenInvalid(role, `has a malformed ${name}`)
  }
  return value
}

function readAudience(payload: JwtClaims, role: TokenRole): readonly string[] {
  const value = payload.aud
  if (value === undefined) throw tokenInvalid(role, 'is missing aud')
  const list = typeof value === 'string' ? [value] : value
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((item) => typeof item === 'string' && item !== '')
  ) {
    throw tokenInvalid(role, 'has a malformed aud')
  }
  return Object.freeze([...(list as string[])])
}

/** RFC 9068 §2.2.3: `scope` is a space-separated string; absent → the profile's fallback. */
function readScopes(
  payload: JwtClaims,
  role: TokenRole,
  profile: IssuerProfile,
): readonly string[] {
  const value = payload[profile.claims.scope]
  if (value === undefined) return profile.scopesWhenAbsent
  if (typeof value !== 'string') throw tokenInvalid(role, `has a malformed ${profile.claims.scope}`)
  return Object.freeze(value.split(' ').filter((scope) => scope !== ''))
}
