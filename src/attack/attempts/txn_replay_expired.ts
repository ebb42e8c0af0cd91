/**
 * A txn token captured inside the trust domain, replayed after its lifetime, at the workload and
 * at the Txn-Token Service (to get a fresh replacement). Both must refuse it: the workload checks
 * `exp` (draft-ietf-oauth-transaction-tokens-10 §12.2), the service never replaces an expired
 * token (§13.15), and the lifetime is seconds (§6).
 */
import { decodeClaims } from '../../demo/paths/index.js'
import { callWithTxnToken, requestTxnToken, served, txnErrorOf } from '../txn_moves.js'
import type { TxnAttempt } from '../types.js'

const TXN_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:txn_token'

export const txnReplayExpired: TxnAttempt = {
  id: 'txn-replay-expired',
  path: 'txn-token',
  title: 'Replay a captured txn token after its lifetime',
  holds: 'captured-txn-token',
  goal: () =>
    'Replay a txn token captured in the trust domain once its short lifetime has passed, and ask the Txn-Token Service to replace it with a live one.',
  async run(config) {
    const token = await config.captured.expired()
    const call = await callWithTxnToken(config, 'replay at the workload', config.workloadUrl, token)
    const replace = await requestTxnToken(
      config,
      'ask for a replacement of the expired token',
      token,
      TXN_TOKEN_TYPE,
      String(decodeClaims(token).scope ?? ''),
    )
    const steps = [call.step, replace.step]
    if (served(call.answer)) {
      return { steps, verdict: 'LEAKED', reason: 'the workload acted on an expired txn token' }
    }
    if (typeof replace.answer.body.access_token === 'string') {
      return { steps, verdict: 'LEAKED', reason: 'the service replaced an expired txn token' }
    }
    return {
      steps,
      verdict: 'BLOCKED',
      reason: `the workload refused it (${txnErrorOf(call.answer)}: exp passed) and the service issued nothing (${txnErrorOf(replace.answer)})`,
    }
  },
}
