/**
 * The registered-claim checks of an RFC 9068 access token at a resource server, run only after the
 * signature holds (src/exchange/jwt/verify_jws.ts). They reproduce, in the same order and with the
 * same strictness, what jose's `jwtVerify` checked here before (`validateClaimsSet` in jose's
 * `lib/jwt_claims_set.ts`): `typ` → every required claim present → `iss` → `aud` → `iat` a number
 * → `nbf` → `exp`, with the clock tolerance applied to `nbf` and `exp`.
 *
 * Each failure is a `ResourceAuthError('invalid_token')` whose `cause` is the jose error jose would
 * have thrown (`ERR_JWT_CLAIM_VALIDATION_FAILED`, `ERR_JWT_EXPIRED`, with `claim` and `reason`), so
 * callers that read `cause.code` and the `detail` format (`<code>: claim <name> <reason>`) see no
 * change.
 */
import { errors, type JWTPayload } from 'jose'
import { ResourceAuthError } from './errors.js'

export interface RegisteredClaimOptions {
  /** Expected `typ` header value, compared as a media type (`at+jwt` = `application/at+jwt`). */
  readonly typ: string
  readonly issuer: string
  readonly audience: string
  /** Claims that must be present (besides `iss` and `aud`). */
  readonly requiredClaims: readonly string[]
  readonly clockToleranceSeconds: number
  /** Current time, whole seconds since the epoch. */
  readonly now: number
}

type ClaimReason = 'missing' | 'check_failed' | 'invalid'

function claimFailed(
  payload: JWTPayload,
  claim: string,
  reason: ClaimReason,
  message: string,
  expired = false,
): never {
  const cause = expired
    ? new errors.JWTExpired(message, payload, claim, reason)
    : new errors.JWTClaimValidationFailed(message, payload, claim, reason)
  throw new ResourceAuthError('invalid_token', {
    detail: `${cause.code}: claim ${claim} ${reason}`,
    cause,
  })
}

/** RFC 8725 §3.11 / RFC 9068 §2.1: media types compare case-insensitively, `application/` optional. */
function normalizeTyp(value: string): string {
  const lower = value.toLowerCase()
  return value.includes('/') ? lower : `application/${lower}`
}

/** `aud` is a string or an array; it must name this resource server (RFC 9068 §4). */
function hasAudience(aud: unknown, audience: string): boolean {
  if (typeof aud === 'string') return aud === audience
  return Array.isArray(aud) && aud.includes(audience)
}

/** A NumericDate claim (RFC 7519 §2): absent, or a JSON number. */
function numericDate(payload: JWTPayload, claim: string): number | undefined {
  const value = payload[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'number')
    claimFailed(payload, claim, 'invalid', `"${claim}" claim must be a number`)
  return value
}

/**
 * @example
 * checkRegisteredClaims(header, payload, {
 *   typ: 'at+jwt', issuer, audience, requiredClaims: ['exp', 'sub'], clockToleranceSeconds: 30,
 *   now: Math.floor(Date.now() / 1000),
 * })
 */
export function checkRegisteredClaims(
  header: { readonly typ?: unknown },
  payload: JWTPayload,
  options: RegisteredClaimOptions,
): void {
  // RFC 9068 §4: the resource server must check `typ`, so an ID token cannot pass as an access token.
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(options.typ)) {
    claimFailed(payload, 'typ', 'check_failed', 'unexpected "typ" JWT header value')
  }
  // jose's order: `iss`, then `aud`, then the required claims in reverse order of listing.
  const required = ['iss', 'aud', ...[...options.requiredClaims].reverse()]
  for (const claim of required) {
    if (!Object.hasOwn(payload, claim)) {
      claimFailed(payload, claim, 'missing', `missing required "${claim}" claim`)
    }
  }
  if (payload.iss !== options.issuer) {
    claimFailed(payload, 'iss', 'check_failed', 'unexpected "iss" claim value')
  }
  if (!hasAudience(payload.aud, options.audience)) {
    claimFailed(payload, 'aud', 'check_failed', 'unexpected "aud" claim value')
  }
  const { now, clockToleranceSeconds: tolerance } = options
  numericDate(payload, 'iat')
  const nbf = numericDate(payload, 'nbf')
  if (nbf !== undefined && nbf > now + tolerance) {
    claimFailed(payload, 'nbf', 'check_failed', '"nbf" claim timestamp check failed')
  }
  const exp = numericDate(payload, 'exp')
  if (exp !== undefined && exp <= now - tolerance) {
    claimFailed(payload, 'exp', 'check_failed', '"exp" claim timestamp check failed', true)
  }
}
