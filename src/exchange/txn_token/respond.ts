/**
 * respond: the Txn-Token Response (draft-ietf-oauth-transaction-tokens-10 §11.4): `token_type`
 * `N_A`, the txn token as `access_token`, `issued_token_type` txn_token, and never a
 * `refresh_token` (§11.4, §13.3). `expires_in` and `scope` are RFC 8693 §2.2.1's. The HTTP edge
 * sends it with `NO_STORE_HEADERS`.
 */
import { TOKEN_TYPE_TXN_TOKEN, type TxnTokenDecision, type TxnTokenResponse } from './types.js'

export function buildTxnTokenResponse(input: {
  readonly txnToken: string
  readonly decision: TxnTokenDecision
}): TxnTokenResponse {
  const { txnToken, decision } = input
  return Object.freeze({
    access_token: txnToken,
    issued_token_type: TOKEN_TYPE_TXN_TOKEN,
    token_type: 'N_A',
    expires_in: decision.exp - decision.iat,
    scope: decision.scopes.join(' '),
  })
}
