/**
 * mint: `TxnTokenDecision` → the claims of a transaction token (draft-ietf-oauth-transaction-
 * tokens-10 §9.2): `iss` (this service, §13.16), `iat`, `aud` (the trust domain), `exp`, `txn`,
 * `sub`, `scope`, `req_wl` (the requesting workload), `tctx`, `rctx`, a random `jti` (one per
 * token: the audit record), and for a replacement `req_wl_chain`, the workloads that requested
 * the earlier tokens of the transaction (§13.15), and `act` when the subject carried a delegation
 * chain (RFC 8693 §4.1, unchanged: a txn token never launders a delegated token). Nothing of the subject token is copied but its
 * `sub` (§13.4: the access token MUST NOT be embedded). The header (`typ: txntoken+jwt`, §9.1) is
 * the minter's.
 *
 * @example
 * ```ts
 * const claims = buildTxnTokenClaims(decision, { issuer })
 * ```
 */
import { randomUUID } from 'node:crypto'
import type { TxnTokenClaims } from '../mint.js'
import type { TxnTokenDecision } from './types.js'

export function buildTxnTokenClaims(
  decision: TxnTokenDecision,
  options: { readonly issuer: string; readonly jti?: string },
): TxnTokenClaims {
  return Object.freeze({
    iss: options.issuer,
    iat: decision.iat,
    aud: decision.trustDomain,
    exp: decision.exp,
    txn: decision.txn,
    sub: decision.sub,
    scope: decision.scopes.join(' '),
    req_wl: decision.reqWl,
    ...(decision.reqWlChain.length > 0 ? { req_wl_chain: decision.reqWlChain } : {}),
    tctx: decision.tctx,
    rctx: decision.rctx,
    ...(decision.act === undefined ? {} : { act: decision.act }),
    jti: options.jti ?? randomUUID(),
  })
}
