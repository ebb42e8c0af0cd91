/**
 * The one verification path for JWT access tokens presented to the engine (RFC 9068, RFC 8725):
 * subject and actor tokens of an exchange, assertions of the JWT federation grant. Claims are read
 * only after the signature holds: signature (pinned algorithms, our keys) → the shared RFC 9068
 * claims validator (src/jwt/access_token_claims.ts, the resource kit's too: `typ` → not another
 * kind of JWT → required claims → `iss` trusted → `aud` well-formed → `nbf`/`exp` with clock skew
 * → `iat` not in the future → string claims) → `scope`, `act` and `may_act` well-formed → the
 * sender constraint (`cnf`) this grant can honour → still active (injected status check).
 *
 * Well-formed provenance: `act` is a JSON object with a non-empty string `sub` (optional string
 * `iss`), and so is every nested `act`, down to `MAX_ACT_NESTING` (src/jwt/act_claim.ts);
 * `may_act` is a JSON object with a non-empty string `sub` (optional string `iss`, a nested `act`
 * held to the `act` rules). Any other shape
 * (array, string, number, `null`, no `sub`, a non-string `sub`) refuses the token, subject and
 * actor alike, at every grant: a claim the engine cannot read is never copied or dropped
 * (toolhive #6093 copied a non-object `act` through).
 *
 * Sender constraint (RFC 9449 `cnf`): every caller states what it does with a bound token
 * (`boundTokens`, required, so a new grant cannot forget it). `refuse`: the grant carries no proof
 * (txn-token, federation), a token with any `cnf` is `invalid_grant` — re-issuing it would strip
 * the binding. `proof_checked`: the RFC 8693 grant, which verifies the request's DPoP proof
 * against the token's `cnf.jkt` in its decide stage (token_exchange/dpop_binding.ts) and refuses
 * without one. `inspect`: introspection, which only reports `cnf`.
 *
 * Every failure is `invalid_request` with one fixed description per role (`subject_token is
 * invalid`, `actor_token is invalid`); the precise reason is in `detail` (lessons S3, S19, S20).
 * Keys that cannot be fetched right now are `temporarily_unavailable` 503 instead: no verdict.
 */
import {
  AccessTokenClaimsError,
  readAudienceClaim,
  readScopeClaim,
  validateAccessTokenClaims,
} from '../jwt/access_token_claims.js'
import { parseActClaim } from '../jwt/act_claim.js'
import { readJktConfirmation } from '../jwt/dpop_proof.js'
import { JwsVerificationError, type JwsHeader, type JwsVerifier } from '../jws/verify_jws.js'
import type { EpochSeconds } from '../time/clock.js'
import {
  ACTOR_TOKEN_INVALID,
  InvalidGrant,
  InvalidRequest,
  SUBJECT_TOKEN_INVALID,
  TemporarilyUnavailable,
} from './errors.js'
import { issuerProfileFor } from './issuer_profile.js'
import type { ExchangePolicy } from './policy.js'
import type { JwtClaims, MayActClaim, VerifiedToken } from './types.js'

export type TokenRole = 'subject' | 'actor'

/**
 * Whether a verified token is still live. For the embedded IdP: the token was issued by us, is not
 * revoked, and its grant still exists. Return false to refuse; throwing is a server error.
 */
export interface TokenStatus {
  isActive(token: VerifiedToken): Promise<boolean>
}

/** What the calling grant does with a sender-constrained (`cnf`) token; see the module doc. */
export type BoundTokenRule = 'refuse' | 'proof_checked' | 'inspect'

export interface TokenValidationDeps {
  readonly verifier: JwsVerifier
  /** Required: a grant that cannot check a DPoP proof says `refuse`. */
  readonly boundTokens: BoundTokenRule
  readonly subjectStatus: TokenStatus
  readonly policy: Pick<ExchangePolicy, 'trustedIssuers' | 'clockSkewSeconds'> &
    Partial<Pick<ExchangePolicy, 'issuers'>>
  /** Current time in whole seconds. */
  readonly now: EpochSeconds
}

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
  const { claims: names } = profile
  let verified: VerifiedToken
  try {
    validateAccessTokenClaims(header, payload, {
      acceptedTypes: profile.acceptedTypes,
      notAccessTokenClaims: profile.notAccessTokenClaims,
      issuers: deps.policy.trustedIssuers,
      // RFC 9068 §2.2: `iss exp aud sub client_id iat jti`, named as the issuer's profile says.
      requiredClaims: [names.clientId, names.jti, names.sub, 'iat', 'exp'],
      optionalStringClaims: ['azp'],
      clockToleranceSeconds: deps.policy.clockSkewSeconds,
      now: deps.now,
      refuseFutureIat: true,
    })
    verified = Object.freeze({
      token: Object.freeze({ ...payload }),
      sub: payload[names.sub] as string,
      iss: payload.iss as string,
      aud: readAudienceClaim(payload.aud),
      clientId: payload[names.clientId] as string,
      azp: payload.azp as string | undefined,
      scopes: readScopeClaim(payload, names.scope) ?? profile.scopesWhenAbsent,
      exp: payload.exp as number,
      jti: payload[names.jti] as string,
      act: payload.act === undefined ? undefined : parseActClaim(payload.act),
      mayAct: payload.may_act === undefined ? undefined : parseMayActClaim(payload.may_act, role),
      jkt: readJktConfirmation(payload),
    })
  } catch (err) {
    if (err instanceof AccessTokenClaimsError)
      throw tokenInvalid(role, describeFailure(err, header, profile.acceptedTypes), err)
    throw err
  }
  checkSenderConstraint(verified, role, deps.boundTokens)
  if (!(await deps.subjectStatus.isActive(verified))) {
    throw tokenInvalid(role, 'is not active (unknown, revoked or its grant ended)')
  }
  return verified
}

/** RFC 9449: a bound token is never re-issued by a grant that cannot verify a proof of its key. */
function checkSenderConstraint(token: VerifiedToken, role: TokenRole, rule: BoundTokenRule): void {
  if (token.jkt === undefined || rule !== 'refuse') return
  throw new InvalidGrant({
    description: 'a sender-constrained token cannot be used with this grant',
    detail: `${role} token carries cnf (DPoP-bound); this grant accepts no proof of its key`,
  })
}

/** The private reason, as the audit log reads it (`subject token expired`). */
function describeFailure(
  err: AccessTokenClaimsError,
  header: JwsHeader,
  acceptedTypes: readonly string[],
): string {
  switch (err.reason) {
    case 'typ':
      return `has typ ${JSON.stringify(header.typ ?? null)}, expected ${acceptedTypes.join(' or ')}`
    case 'not_access_token':
      return `carries ${err.claim}: not an access token`
    case 'present':
      return `is missing ${err.claim}`
    case 'issuer':
      return 'issuer is not trusted'
    case 'expiry':
      return 'expired'
    case 'not_before':
      return 'is not yet valid (nbf)'
    case 'issued_at':
      return 'was issued in the future (iat)'
    case 'act_depth':
      return 'act claim is nested too deeply'
    case 'format':
    case 'audience':
      return err.claim === 'act' ? `act claim ${err.message}` : `has a malformed ${err.claim}`
  }
}

/**
 * RFC 8693 §4.4: `{ sub, iss? }`. `sub` is required: a may_act naming only an issuer would let any
 * party of that issuer act, and the issued token could not record who acted.
 */
function parseMayActClaim(value: unknown, role: TokenRole): MayActClaim {
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
  if (mayAct.sub === undefined) {
    throw tokenInvalid(role, 'may_act claim names no sub')
  }
  // A nested `act` (a chain the named party may act with) is held to the `act` rules too.
  if (record.act !== undefined) {
    try {
      parseActClaim(record.act, 2)
    } catch (err) {
      if (err instanceof AccessTokenClaimsError) {
        throw tokenInvalid(role, `may_act act claim ${err.message}`, err)
      }
      throw err
    }
  }
  return Object.freeze(mayAct as MayActClaim)
}
