/**
 * The registered-claim checks of an RFC 9068 access token at a resource server, run only after the
 * signature holds (src/jws/verify_jws.ts). The checks are the shared validator's
 * (src/jwt/access_token_claims.ts, the one the exchange engine uses too), in jose's order and with
 * jose's strictness (`validateClaimsSet` in jose's `lib/jwt_claims_set.ts`): `typ` → every required
 * claim present → `iss` → `aud` → `iat` a number → `nbf` → `exp`, the clock tolerance applied to
 * `nbf` and `exp`, then the string claims.
 *
 * Each failure is a `ResourceAuthError('invalid_token')` whose `cause` is the jose error jose would
 * have thrown (`ERR_JWT_CLAIM_VALIDATION_FAILED`, `ERR_JWT_EXPIRED`, with `claim` and `reason`), so
 * callers that read `cause.code` and the `detail` format (`<code>: claim <name> <reason>`) see no
 * change.
 */
import { errors, type JWTPayload } from 'jose'
import {
  AccessTokenClaimsError,
  validateAccessTokenClaims,
  type ClaimCheck,
} from '../jwt/access_token_claims.js'
import { ResourceAuthError } from './errors.js'

export interface RegisteredClaimOptions {
  /** Expected `typ` header value, compared as a media type (`at+jwt` = `application/at+jwt`). */
  readonly typ: string
  readonly issuer: string
  readonly audience: string
  /** Claims that must be present (besides `iss` and `aud`). */
  readonly requiredClaims: readonly string[]
  /** Claims that, when present, must be non-empty strings. */
  readonly optionalStringClaims?: readonly string[]
  readonly clockToleranceSeconds: number
  /** Current time, whole seconds since the epoch. */
  readonly now: number
}

/** jose's `reason` for each check of the shared validator. */
function joseReason(failed: ClaimCheck): 'missing' | 'invalid' | 'check_failed' {
  if (failed === 'present') return 'missing'
  if (failed === 'format') return 'invalid'
  return 'check_failed'
}

/** The jose error for a claims failure, wrapped as the kit's `invalid_token`. */
export function fromClaimsError(
  err: AccessTokenClaimsError,
  payload: JWTPayload,
): ResourceAuthError {
  const reason = joseReason(err.reason)
  const cause =
    err.reason === 'expiry'
      ? new errors.JWTExpired(err.message, payload, err.claim, reason)
      : new errors.JWTClaimValidationFailed(err.message, payload, err.claim, reason)
  return new ResourceAuthError('invalid_token', {
    detail: `${cause.code}: claim ${err.claim} ${reason}`,
    cause,
  })
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
  try {
    validateAccessTokenClaims(header, payload, {
      // RFC 9068 §4: the resource server must check `typ`, so an ID token cannot pass.
      acceptedTypes: [options.typ],
      issuers: [options.issuer],
      audience: options.audience,
      requiredClaims: options.requiredClaims,
      optionalStringClaims: options.optionalStringClaims,
      clockToleranceSeconds: options.clockToleranceSeconds,
      now: options.now,
    })
  } catch (err) {
    if (err instanceof AccessTokenClaimsError) throw fromClaimsError(err, payload)
    throw err
  }
}
