/**
 * validate: `TxnTokenRequest` → `VerifiedTxnSubject` (draft-ietf-oauth-transaction-tokens-10
 * §11.3: "The TTS MUST validate the subject_token, including verifying the signature").
 *
 * - An access token goes through the engine's one access-token path (../verify_access_token.ts):
 *   pinned algorithms, a trusted upstream issuer's key, `typ: at+jwt`, times — so an expired one
 *   is refused (§6: MUST NOT issue when the presented token's expiry has passed).
 * - A txn token (replacement, §13.15) is verified with this service's own keys only, and must be
 *   one of ours: `typ: txntoken+jwt`, `iss` us, `aud` our trust domain, not expired — with no
 *   clock tolerance, since §13.15 forbids replacing an expired token.
 *
 * - Provenance: an access token's `act` chain is carried into the txn token unchanged, and a
 *   replacement keeps it (the txn token is verified as carefully: a malformed `act` refuses it); a
 *   subject carrying `may_act` is `invalid_grant` — only the party it names may act, and a
 *   txn-token request names none. A sender-constrained subject (`cnf`) is `invalid_grant` too
 *   (the shared validation, `boundTokens: 'refuse'`).
 *
 * Every other failure is `invalid_request` / `subject_token is invalid`, the reason in `detail`.
 */
import {
  AccessTokenClaimsError,
  readScopeClaim,
  validateAccessTokenClaims,
} from '../../jwt/access_token_claims.js'
import { parseActClaim } from '../../jwt/act_claim.js'
import { JwsVerificationError, type JwsVerifier } from '../../jws/verify_jws.js'
import { InvalidGrant, TemporarilyUnavailable } from '../errors.js'
import { TXN_TOKEN_TYP } from '../mint.js'
import type { EpochSeconds } from '../../time/clock.js'
import {
  tokenInvalid,
  verifyAccessToken,
  type TokenValidationDeps,
} from '../verify_access_token.js'
import { checkFlatContext } from './parse_request.js'
import type { TxnTokenPolicy } from './policy.js'
import type { TxnTokenRequest, VerifiedTxnSubject } from './types.js'

export interface TxnSubjectDeps {
  /** Access tokens: the upstream issuers' keys, policy and status (as for an exchange). */
  readonly accessTokens: Omit<TokenValidationDeps, 'now' | 'boundTokens'>
  /** Txn tokens: this service's own keys only. */
  readonly ownVerifier: JwsVerifier
  readonly policy: Pick<TxnTokenPolicy, 'issuer' | 'trustDomain'>
  readonly now: EpochSeconds
}

const TXN_REQUIRED_CLAIMS = ['iat', 'exp', 'txn', 'sub', 'scope', 'req_wl', 'jti']

export async function validateTxnSubject(
  request: TxnTokenRequest,
  deps: TxnSubjectDeps,
): Promise<VerifiedTxnSubject> {
  if (request.subjectKind === 'access_token') {
    const token = await verifyAccessToken(request.subjectToken, 'subject', {
      ...deps.accessTokens,
      // A sender-constrained token (RFC 9449 `cnf`) is usable only with a proof from its key; a
      // txn-token request carries no proof, so swapping a stolen bound token for a txn token would
      // strip the binding: the shared validation refuses it (`invalid_grant`).
      boundTokens: 'refuse',
      now: deps.now,
    })
    // `may_act` names the one party that may act for the subject, and a txn-token request names
    // no actor: the token must first be exchanged by that party (RFC 8693 grant, act recorded).
    if (token.mayAct !== undefined) {
      throw new InvalidGrant({
        description: 'a subject token carrying may_act cannot be exchanged for a txn token',
        detail: 'subject token carries may_act; a txn-token request names no actor',
      })
    }
    return Object.freeze({
      kind: 'access_token',
      sub: token.sub,
      jti: token.jti,
      exp: token.exp,
      scopes: token.scopes,
      act: token.act,
      // For decide's addressed-to check; the token itself is never copied (§13.4).
      issuedFor: Object.freeze({
        iss: token.iss,
        aud: token.aud,
        azp: token.azp,
        clientId: token.clientId,
      }),
      previous: undefined,
    }) as VerifiedTxnSubject
  }
  return verifyTxnTokenSubject(request.subjectToken, deps)
}

async function verifyTxnTokenSubject(
  compact: string,
  deps: TxnSubjectDeps,
): Promise<VerifiedTxnSubject> {
  let header
  let payload: Readonly<Record<string, unknown>>
  try {
    ;({ header, payload } = await deps.ownVerifier.verify(compact))
  } catch (err) {
    if (err instanceof JwsVerificationError) {
      if (err.reason === 'key_unavailable') {
        throw new TemporarilyUnavailable({
          description: 'subject_token cannot be verified right now, retry later',
          detail: `txn token cannot be verified: ${err.message}`,
          cause: err,
        })
      }
      throw tokenInvalid('subject', `(txn token) failed JWS verification: ${err.reason}`, err)
    }
    throw err
  }
  try {
    validateAccessTokenClaims(header, payload, {
      acceptedTypes: [TXN_TOKEN_TYP],
      issuers: [deps.policy.issuer],
      audience: deps.policy.trustDomain,
      requiredClaims: TXN_REQUIRED_CLAIMS,
      clockToleranceSeconds: 0,
      now: deps.now,
      refuseFutureIat: true,
    })
  } catch (err) {
    if (err instanceof AccessTokenClaimsError) {
      throw tokenInvalid(
        'subject',
        err.reason === 'expiry'
          ? '(txn token) expired: a replacement is not issued (draft §13.15)'
          : `(txn token) ${err.claim} check failed: ${err.reason}`,
        err,
      )
    }
    throw err
  }
  const chain = payload.req_wl_chain ?? []
  if (!Array.isArray(chain) || !chain.every((entry) => typeof entry === 'string')) {
    throw tokenInvalid('subject', '(txn token) req_wl_chain is not an array of strings')
  }
  let act
  try {
    act = payload.act === undefined ? undefined : parseActClaim(payload.act)
  } catch (cause) {
    throw tokenInvalid('subject', '(txn token) act is malformed', cause)
  }
  if (payload.may_act !== undefined) {
    throw tokenInvalid('subject', '(txn token) carries may_act, which no txn token is minted with')
  }
  let tctx
  let rctx
  try {
    tctx = checkFlatContext('tctx', payload.tctx ?? {})
    rctx = checkFlatContext('rctx', payload.rctx ?? {})
  } catch (cause) {
    throw tokenInvalid('subject', '(txn token) tctx or rctx is not a flat object', cause)
  }
  return Object.freeze({
    kind: 'txn_token',
    sub: payload.sub as string,
    jti: payload.jti as string,
    exp: payload.exp as number,
    scopes: readScopeClaim(payload, 'scope') ?? [],
    act,
    issuedFor: undefined,
    previous: Object.freeze({
      txn: payload.txn as string,
      aud: deps.policy.trustDomain,
      reqWl: payload.req_wl as string,
      reqWlChain: Object.freeze([...(chain as string[])]),
      tctx,
      rctx,
    }),
  }) as VerifiedTxnSubject
}
