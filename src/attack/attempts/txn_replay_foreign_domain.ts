/**
 * A live txn token, captured inside its trust domain, replayed at a workload of another trust
 * domain. That workload must refuse it: `aud` names the one trust domain where the token is valid
 * and it MUST NOT be accepted outside it (draft-ietf-oauth-transaction-tokens-10 §9.2, §12.2).
 */
import { callWithTxnToken, served, txnErrorOf } from '../txn_moves.js'
import type { TxnAttempt } from '../types.js'

export const txnReplayForeignDomain: TxnAttempt = {
  id: 'txn-replay-foreign-domain',
  path: 'txn-token',
  title: 'Replay a txn token outside its trust domain',
  holds: 'captured-txn-token',
  goal: (config) =>
    `Replay a live txn token of trust domain "${config.trustDomain}" at a workload of another trust domain.`,
  async run(config) {
    const token = await config.captured.fresh()
    const call = await callWithTxnToken(
      config,
      'replay at a workload of another trust domain',
      config.foreignWorkloadUrl,
      token,
    )
    if (served(call.answer)) {
      return {
        steps: [call.step],
        verdict: 'LEAKED',
        reason: 'a workload outside the trust domain acted on the txn token',
      }
    }
    return {
      steps: [call.step],
      verdict: 'BLOCKED',
      reason: `the foreign workload refused it (${txnErrorOf(call.answer)}: aud is not its trust domain)`,
    }
  },
}
