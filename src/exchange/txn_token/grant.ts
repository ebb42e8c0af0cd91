/**
 * The Txn-Token grant (draft-ietf-oauth-transaction-tokens-10): an RFC 8693 token exchange whose
 * `requested_token_type` is `urn:ietf:params:oauth:token-type:txn_token`, issued by the STS in its
 * Txn-Token Service mode. Its stages, run in this order by the audited runner (../runner.ts), so
 * every txn token has exactly one audit event, as every other token the engine decides:
 *
 *   parse         form parameters → TxnTokenRequest (§11.1)                      parse_request.ts
 *   authenticate  the edge's workload is confidential and its txn-token policy is on (§11.3,
 *                 §11.5, §13.10: unauthorized_client), before any token is touched   decide.ts
 *   validate      subject_token → VerifiedTxnSubject: an upstream access token, or one of our
 *                 txn tokens for a replacement (§11.3, §13.15)                   validate_subject.ts
 *   decide        trust domain, addressed-to, scope ceiling, context, lifetime      decide.ts
 *   mint          TxnTokenDecision → §9.2 claims → the TokenMinter (typ txntoken+jwt) claims.ts
 *   respond       → §11.4 body (token_type N_A, no refresh token)                  respond.ts
 *
 * @example
 * ```ts
 * const grant = createTxnTokenGrant({ policy, subjectPolicy, verifier, ownVerifier, subjectStatus })
 * const body = await runner.run(grant, { params: request.body, client })
 * ```
 */
import { randomUUID } from 'node:crypto'
import type { TxnTokenAuditEvent } from '../audit.js'
import { checkConfidentialClient } from '../authenticate_client.js'
import type { Grant } from '../grant.js'
import type { JwsVerifier } from '../../jws/verify_jws.js'
import { TXN_TOKEN_TYP } from '../mint.js'
import type { ExchangePolicy } from '../policy.js'
import type { TokenStatus } from '../verify_access_token.js'
import { buildTxnTokenClaims } from './claims.js'
import { checkWorkloadMayRequest, decideTxnToken } from './decide.js'
import { parseTxnTokenRequest } from './parse_request.js'
import type { TxnTokenPolicy } from './policy.js'
import { buildTxnTokenResponse } from './respond.js'
import {
  GRANT_TYPE_TOKEN_EXCHANGE,
  type TxnTokenDecision,
  type TxnTokenInput,
  type TxnTokenRequest,
  type TxnTokenResponse,
  type TxnWorkload,
  type VerifiedTxnTokenRequest,
} from './types.js'
import { validateTxnSubject } from './validate_subject.js'

export interface TxnTokenGrantDeps {
  readonly policy: TxnTokenPolicy
  /** Which issuers' access tokens are accepted as subjects, and how to read them. */
  readonly subjectPolicy: Pick<
    ExchangePolicy,
    'trustedIssuers' | 'clockSkewSeconds' | 'issuers' | 'maxChainDepth'
  >
  /** Verifies access tokens with the trusted issuers' keys. */
  readonly verifier: JwsVerifier
  /** Verifies txn tokens with this service's own keys only (replacements). */
  readonly ownVerifier: JwsVerifier
  /** Checks subject access tokens are still live. */
  readonly subjectStatus: TokenStatus
  /** A fresh `txn` per new transaction; default `crypto.randomUUID`. */
  readonly newTxn?: () => string
}

export type TxnTokenGrant = Grant<{
  input: TxnTokenInput
  request: TxnTokenRequest
  requester: TxnWorkload
  verified: VerifiedTxnTokenRequest
  decision: TxnTokenDecision
  response: TxnTokenResponse
  event: TxnTokenAuditEvent
}>

export function createTxnTokenGrant(deps: TxnTokenGrantDeps): TxnTokenGrant {
  const { policy, subjectPolicy, verifier, ownVerifier, subjectStatus } = deps
  if (!(policy?.workloads instanceof Map) || typeof policy.trustDomain !== 'string') {
    throw new TypeError('createTxnTokenGrant: policy is required (createTxnTokenPolicy)')
  }
  if (subjectPolicy === undefined || !Array.isArray(subjectPolicy.trustedIssuers)) {
    throw new TypeError('createTxnTokenGrant: subjectPolicy is required')
  }
  if (typeof verifier?.verify !== 'function' || typeof ownVerifier?.verify !== 'function') {
    throw new TypeError('createTxnTokenGrant: verifier and ownVerifier are required')
  }
  if (typeof subjectStatus?.isActive !== 'function') {
    throw new TypeError('createTxnTokenGrant: subjectStatus.isActive is required')
  }
  const newTxn = deps.newTxn ?? randomUUID
  const accessTokens = { verifier, subjectStatus, policy: subjectPolicy }

  return Object.freeze({
    event: 'txn_token',
    grantType: GRANT_TYPE_TOKEN_EXCHANGE,
    parameters: new Set([
      'subject_token',
      'subject_token_type',
      'requested_token_type',
      'audience',
      'scope',
      'request_context',
      'request_details',
    ]),
    allowedDuplicateParameters: new Set<string>(),
    requesterOf: (input) => input?.client?.clientId,
    parse(input, context) {
      const request = parseTxnTokenRequest(input.params, policy)
      context.note({ subjectTokenType: request.subjectKind, trustDomain: request.audience })
      return request
    },
    authenticate: (_request, input) =>
      checkWorkloadMayRequest(policy, checkConfidentialClient(input.client)),
    async validate(request, workload, context) {
      const subject = await validateTxnSubject(request, {
        accessTokens,
        ownVerifier,
        policy,
        now: context.now,
      })
      context.note({
        subjectSub: subject.sub,
        subjectJti: subject.jti,
        replacement: subject.previous !== undefined,
        ...(subject.previous === undefined ? {} : { txn: subject.previous.txn }),
      })
      return { request, workload, subject }
    },
    decide(verified, context) {
      const decision = decideTxnToken({
        ...verified,
        policy,
        issuers: subjectPolicy.issuers,
        maxChainDepth: subjectPolicy.maxChainDepth,
        now: context.now,
        newTxn,
      })
      context.note({ txn: decision.txn, scopes: decision.scopes })
      return decision
    },
    mint: (decision) => ({
      typ: TXN_TOKEN_TYP,
      claims: buildTxnTokenClaims(decision, { issuer: policy.issuer }),
      derivedFromJti: decision.subjectJti,
    }),
    respond: (decision, txnToken) => buildTxnTokenResponse({ txnToken: txnToken!, decision }),
  } satisfies TxnTokenGrant)
}
