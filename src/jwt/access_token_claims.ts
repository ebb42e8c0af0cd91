/**
 * The one RFC 9068 claims validator: what a JWT access token must say once its signature holds,
 * shared by the exchange engine (subject and actor tokens, federation assertions) and the
 * resource-server kit. Claims are read only after the JWS is verified (src/jws/verify_jws.ts).
 *
 * Checks in jose's fixed order (`validateClaimsSet` in jose's `lib/jwt_claims_set.ts`), so the
 * resource kit refuses exactly what jose's `jwtVerify` refused: `typ` (RFC 9068 §2.1, compared as a
 * media type, RFC 7515 §4.1.9) → no claim marking another kind of JWT (ID token, logout token; lesson
 * S3) → every required claim present → `iss` one of the trusted issuers → `aud` well-formed and, for
 * a resource server, naming it → `iat` a number → `nbf` → `exp`, the clock tolerance applied to
 * both → optionally an `iat` in the future refused → the string claims non-empty strings.
 *
 * A failure is one `AccessTokenClaimsError` naming the claim and the check; each caller turns it into
 * its own answer (the engine's `invalid_request` per token role, the kit's `invalid_token`).
 *
 * @example
 * ```ts
 * validateAccessTokenClaims(header, payload, {
 *   acceptedTypes: ['at+jwt'], issuers: ['https://idp.example'], audience: 'app-b',
 *   requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'], clockToleranceSeconds: 30, now,
 * })
 * ```
 */
import type { EpochSeconds } from '../time/clock.js'

/** Which check failed; `present` and `format` are jose's `missing` and `invalid`. */
export type ClaimCheck =
  | 'typ'
  | 'not_access_token'
  | 'present'
  | 'format'
  | 'issuer'
  | 'audience'
  | 'not_before'
  | 'expiry'
  | 'issued_at'
  | 'act_depth'

export class AccessTokenClaimsError extends Error {
  static readonly code = 'ERR_JWT_CLAIMS_INVALID'
  readonly code = AccessTokenClaimsError.code
  /** The claim at fault (`typ` for the header parameter). */
  readonly claim: string
  /** Which check failed. */
  readonly reason: ClaimCheck
  constructor(claim: string, reason: ClaimCheck, message: string) {
    super(message)
    this.name = 'AccessTokenClaimsError'
    this.claim = claim
    this.reason = reason
  }
}

export interface AccessTokenClaimsOptions {
  /** `typ` values accepted (case-insensitive, `application/` optional). */
  readonly acceptedTypes: readonly string[]
  /** Claims whose presence marks another kind of JWT (S3). Default none. */
  readonly notAccessTokenClaims?: readonly string[]
  /** `iss` must be one of these. */
  readonly issuers: readonly string[]
  /** When set, `aud` must contain it (RFC 9068 §4: the resource server's own name). */
  readonly audience?: string
  /**
   * Claims that must be present besides `iss` and `aud`. `exp`, `iat` and `nbf` must be numbers,
   * every other one a non-empty string.
   */
  readonly requiredClaims: readonly string[]
  /** Claims that, when present, must be non-empty strings (`azp`). */
  readonly optionalStringClaims?: readonly string[]
  readonly clockToleranceSeconds: number
  readonly now: EpochSeconds
  /** Refuse an `iat` later than now + tolerance (the engine does; jose without `maxTokenAge` does not). */
  readonly refuseFutureIat?: boolean
}

const NUMERIC_DATES: ReadonlySet<string> = new Set(['exp', 'iat', 'nbf'])

/** RFC 7515 §4.1.9: media types compare case-insensitively, `application/` may be left out. */
function normalizeMediaType(value: string): string {
  const lower = value.toLowerCase()
  return lower.includes('/') ? lower : `application/${lower}`
}

export function validateAccessTokenClaims(
  header: { readonly typ?: unknown },
  payload: Readonly<Record<string, unknown>>,
  options: AccessTokenClaimsOptions,
): void {
  const accepted = options.acceptedTypes.map(normalizeMediaType)
  if (typeof header.typ !== 'string' || !accepted.includes(normalizeMediaType(header.typ))) {
    throw new AccessTokenClaimsError('typ', 'typ', 'unexpected "typ" JWT header value')
  }
  for (const marker of options.notAccessTokenClaims ?? []) {
    if (payload[marker] !== undefined) {
      throw new AccessTokenClaimsError(marker, 'not_access_token', `"${marker}" marks another JWT`)
    }
  }
  // jose's order: `iss`, then `aud`, then the required claims in reverse order of listing.
  for (const claim of ['iss', 'aud', ...[...options.requiredClaims].reverse()]) {
    if (!Object.hasOwn(payload, claim)) {
      throw new AccessTokenClaimsError(claim, 'present', `missing required "${claim}" claim`)
    }
  }
  if (typeof payload.iss !== 'string' || !options.issuers.includes(payload.iss)) {
    throw new AccessTokenClaimsError('iss', 'issuer', 'unexpected "iss" claim value')
  }
  checkAudience(payload.aud, options.audience)

  const { now, clockToleranceSeconds: tolerance } = options
  const iat = numericDate(payload, 'iat')
  const nbf = numericDate(payload, 'nbf')
  if (nbf !== undefined && nbf > now + tolerance) {
    throw new AccessTokenClaimsError('nbf', 'not_before', '"nbf" claim timestamp check failed')
  }
  const exp = numericDate(payload, 'exp')
  if (exp !== undefined && exp <= now - tolerance) {
    throw new AccessTokenClaimsError('exp', 'expiry', '"exp" claim timestamp check failed')
  }
  if (options.refuseFutureIat && iat !== undefined && iat > now + tolerance) {
    throw new AccessTokenClaimsError('iat', 'issued_at', '"iat" claim is in the future')
  }
  for (const claim of options.requiredClaims) {
    if (!NUMERIC_DATES.has(claim)) readStringClaim(payload, claim)
  }
  for (const claim of options.optionalStringClaims ?? []) {
    if (payload[claim] !== undefined) readStringClaim(payload, claim)
  }
}

/** A claim that must be a non-empty string (RFC 9068 §2.2: `sub`, `client_id`, `jti`, …). */
function readStringClaim(payload: Readonly<Record<string, unknown>>, claim: string): string {
  const value = payload[claim]
  if (value === undefined) {
    throw new AccessTokenClaimsError(claim, 'present', `missing required "${claim}" claim`)
  }
  if (typeof value !== 'string' || value === '') {
    throw new AccessTokenClaimsError(claim, 'format', `"${claim}" claim must be a non-empty string`)
  }
  return value
}

/** RFC 9068 §2.2.3: `scope` is one space-delimited string; `undefined` when absent. */
export function readScopeClaim(
  payload: Readonly<Record<string, unknown>>,
  claim = 'scope',
): readonly string[] | undefined {
  const value = payload[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'string') {
    throw new AccessTokenClaimsError(claim, 'format', `"${claim}" claim must be a string`)
  }
  return Object.freeze(value.split(' ').filter((scope) => scope !== ''))
}

/** `aud` as a list: one non-empty string or a non-empty array of them (RFC 7519 §4.1.3). */
export function readAudienceClaim(aud: unknown): readonly string[] {
  const list = typeof aud === 'string' ? [aud] : aud
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((item) => typeof item === 'string' && item !== '')
  ) {
    throw new AccessTokenClaimsError('aud', 'format', 'unexpected "aud" claim value')
  }
  return Object.freeze([...(list as string[])])
}

function checkAudience(aud: unknown, audience: string | undefined): void {
  if (audience === undefined) {
    readAudienceClaim(aud)
    return
  }
  const named =
    typeof aud === 'string' ? aud === audience : Array.isArray(aud) && aud.includes(audience)
  if (!named) throw new AccessTokenClaimsError('aud', 'audience', 'unexpected "aud" claim value')
}

/** A NumericDate claim (RFC 7519 §2): absent, or a JSON number. */
function numericDate(
  payload: Readonly<Record<string, unknown>>,
  claim: string,
): number | undefined {
  const value = payload[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new AccessTokenClaimsError(claim, 'format', `"${claim}" claim must be a number`)
  }
  return value
}
