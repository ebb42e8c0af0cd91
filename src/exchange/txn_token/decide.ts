/**
 * decide: the single decision point of the Txn-Token grant (draft-ietf-oauth-transaction-tokens-10,
 * section numbers of draft-10). Verified inputs → a frozen `TxnTokenDecision`; no token is built
 * here.
 *
 * Order: the workload may request txn tokens (`checkWorkloadMayRequest`, `unauthorized_client`,
 * run by the authenticate stage before any token is touched; §11.3, §13.10) → the audience is our
 * trust domain (`invalid_target`; §9.2 `aud`, §11.3) → a new transaction: the access token was
 * issued to or for the workload (lesson S2: a workload cannot turn someone else's token into a txn
 * token) — a replacement: the workload may replace (§13.15) and the count stays under the cap →
 * scope within the subject's and the workload's (`invalid_scope`; §13.6, §13.14) → context: `rctx`
 * and `tctx` from the request, and for a replacement the earlier values kept unchanged (§13.15:
 * only additions, never modifications) → lifetime: short (§6), and for a new transaction never
 * beyond the access token it came from (lesson S17).
 *
 * A replacement keeps `sub`, `aud` and `txn` (§13.15 MUST NOT modify) and the chain of workloads
 * that requested the earlier tokens (`req_wl_chain`, oldest first; §13.15 MUST maintain).
 *
 * @example
 * ```ts
 * const workload = checkWorkloadMayRequest(policy, client)
 * const decision = decideTxnToken({ request, workload, subject, policy, now, newTxn: randomUUID })
 * ```
 */
import {
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  SUBJECT_TOKEN_INVALID,
  UnauthorizedClient,
} from '../errors.js'
import { issuerProfileFor, upstreamClientIdsOf } from '../issuer_profile.js'
import type { ExchangePolicy } from '../policy.js'
import {
  checkChainCycles,
  checkChainDepth,
  checkSubjectAddressedTo,
} from '../token_exchange/decide.js'
import type { AuthenticatedClient } from '../types.js'
import type { TxnTokenPolicy } from './policy.js'
import type {
  TxnContext,
  TxnTokenDecision,
  TxnTokenRequest,
  TxnWorkload,
  VerifiedTxnSubject,
} from './types.js'

export interface DecideTxnTokenInput {
  readonly request: TxnTokenRequest
  readonly workload: TxnWorkload
  readonly subject: VerifiedTxnSubject
  readonly policy: TxnTokenPolicy
  /** The upstream issuers' profiles (client id mapping). */
  readonly issuers: ExchangePolicy['issuers']
  /** The engine's actor chain cap (lesson S14), for the `act` a subject carries in. */
  readonly maxChainDepth: number
  readonly now: number
  /** A fresh transaction id (§11.3: unique per transaction). */
  readonly newTxn: () => string
}

export function decideTxnToken(input: DecideTxnTokenInput): TxnTokenDecision {
  const { request, workload, subject, policy, now } = input
  checkTrustDomain(request.audience, policy.trustDomain)

  const previous = subject.previous
  if (previous === undefined) {
    const issuedFor = subject.issuedFor!
    checkSubjectAddressedTo(
      issuedFor,
      upstreamClientIdsOf(issuerProfileFor(input.issuers, issuedFor.iss), workload.clientId),
    )
  } else {
    checkMayReplace(workload, previous.reqWlChain.length, policy.maxReplacements)
  }

  // The chain is carried unchanged; it still meets the engine's depth and cycle limits (S14).
  checkChainDepth(subject.act, input.maxChainDepth)
  checkChainCycles(subject.act)

  const scopes = decideTxnScopes(request.scopes, subject.scopes, workload.policy.scopes)
  const rctx = mergeContext('request_context', previous?.rctx, request.requestContext)
  const tctx = mergeContext('request_details', previous?.tctx, request.requestDetails)

  // §6: short-lived. A new transaction never outlives the access token it came from (S17); a
  // replacement may outlive its input (§13.15 MAY), bounded by the replacement cap.
  const exp =
    previous === undefined
      ? Math.min(now + policy.lifetimeSeconds, subject.exp)
      : now + policy.lifetimeSeconds
  if (exp <= now) {
    throw new InvalidRequest({
      description: SUBJECT_TOKEN_INVALID,
      detail: 'no lifetime left: subject token expires now',
    })
  }

  const decision = {
    trustDomain: policy.trustDomain,
    sub: subject.sub,
    txn: previous?.txn ?? input.newTxn(),
    scopes,
    reqWl: workload.clientId,
    reqWlChain:
      previous === undefined
        ? Object.freeze([])
        : Object.freeze([...previous.reqWlChain, previous.reqWl]),
    tctx,
    rctx,
    act: subject.act,
    iat: now,
    exp,
    subjectJti: subject.jti,
    replacement: previous !== undefined,
  }
  return Object.freeze(decision) as TxnTokenDecision
}

/** §13.10: the workload has a txn-token block and it is switched on. */
export function checkWorkloadMayRequest(
  policy: Pick<TxnTokenPolicy, 'workloads'>,
  client: AuthenticatedClient,
): TxnWorkload {
  const block = policy.workloads.get(client.clientId)
  if (block === undefined || !block.enabled) {
    throw new UnauthorizedClient({
      description: 'client is not allowed to request txn tokens',
      detail:
        block === undefined ? 'workload has no txn token policy' : 'txn tokens are off for it',
    })
  }
  const workload = { clientId: client.clientId, authMethod: client.authMethod, policy: block }
  return Object.freeze(workload) as TxnWorkload
}

/** §11.1 audience MUST be the trust domain; §9.2 `aud` identifies it. One trust domain per TTS. */
export function checkTrustDomain(audience: string, trustDomain: string): void {
  if (audience !== trustDomain) {
    throw new InvalidTarget({ detail: 'audience is not the trust domain of this service' })
  }
}

/** §13.15: replacing is a privilege, and bounded (SHOULD limit the number of replacements). */
export function checkMayReplace(
  workload: TxnWorkload,
  replacementsSoFar: number,
  maxReplacements: number,
): void {
  if (!workload.policy.mayReplace) {
    throw new UnauthorizedClient({
      description: 'client is not allowed to replace txn tokens',
      detail: 'workload may not replace txn tokens',
    })
  }
  if (replacementsSoFar + 1 > maxReplacements) {
    throw new InvalidRequest({
      description: SUBJECT_TOKEN_INVALID,
      detail: `txn token already replaced ${replacementsSoFar} times, limit ${maxReplacements}`,
    })
  }
}

/**
 * §13.6: the scope MUST be equal to or less than the subject token's; §13.14: a subject whose scope
 * is unknown (none) is refused, never treated as unconstrained. The workload's own list caps it too
 * (§13.10). Nothing is silently cut: every requested scope must pass.
 */
export function decideTxnScopes(
  requested: readonly string[],
  subjectScopes: readonly string[],
  workloadScopes: readonly string[],
): readonly string[] {
  if (subjectScopes.length === 0) {
    throw new InvalidScope({ detail: 'subject token carries no scope (draft §13.14)' })
  }
  for (const scope of requested) {
    if (!subjectScopes.includes(scope)) {
      throw new InvalidScope({ detail: `scope ${scope} is not granted by the subject token` })
    }
    if (!workloadScopes.includes(scope)) {
      throw new InvalidScope({ detail: `scope ${scope} is not allowed for the workload` })
    }
  }
  return Object.freeze([...requested])
}

/**
 * The context of the new token: the request's members, over the earlier token's for a
 * replacement. §13.15: additions are allowed, a change to a value already asserted is not.
 */
export function mergeContext(
  parameter: string,
  earlier: TxnContext | undefined,
  requested: TxnContext | undefined,
): TxnContext {
  const merged: Record<string, string | number | boolean> = { ...earlier }
  for (const [key, value] of Object.entries(requested ?? {})) {
    if (earlier !== undefined && Object.hasOwn(earlier, key) && earlier[key] !== value) {
      throw new InvalidRequest({
        description: `${parameter} is invalid`,
        detail: `${parameter}.${key} would change a value the txn token asserts (draft §13.15)`,
      })
    }
    merged[key] = value
  }
  return Object.freeze(merged)
}
