/**
 * A live txn token used as an OAuth access token: sent as `Authorization: Bearer` to a bearer API
 * of the trust domain. It must be refused: a txn token MUST NOT be used as an access token
 * (draft-ietf-oauth-transaction-tokens-10 §13.13) and its `typ` is `txntoken+jwt`, not `at+jwt`,
 * so the resource kit's bearer verifier refuses it (RFC 9068 §4).
 */
import { callWithTxnToken, served, txnErrorOf } from '../txn_moves.js'
import type { TxnAttempt } from '../types.js'

export const txnSentAsBearer: TxnAttempt = {
  id: 'txn-sent-as-bearer',
  path: 'txn-token',
  title: 'Use a txn token as a bearer access token',
  holds: 'captured-txn-token',
  goal: () =>
    "Send a captured txn token as a bearer access token to App B's todo API, as if it granted access.",
  async run(config) {
    const token = await config.captured.fresh()
    const call = await callWithTxnToken(
      config,
      'send the txn token as a bearer token',
      config.bearerServiceUrl,
      token,
      'bearer',
    )
    if (served(call.answer)) {
      return {
        steps: [call.step],
        verdict: 'LEAKED',
        reason: 'the bearer API accepted a txn token as an access token',
      }
    }
    return {
      steps: [call.step],
      verdict: 'BLOCKED',
      reason: `the bearer API refused it (${txnErrorOf(call.answer)}: typ txntoken+jwt is not an access token)`,
    }
  },
}
