/**
 * A compromised App A, a client the STS knows but not a workload of its Txn-Token Service, asks
 * for a txn token with a user's token it holds. The service must refuse: it authenticates the
 * requesting workload and issues only to the workloads its policy lists
 * (draft-ietf-oauth-transaction-tokens-10 §11.3, §11.5, §13.10).
 */
import { requestTxnToken, txnErrorOf } from '../txn_moves.js'
import type { TxnAttempt } from '../types.js'

const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

export const txnWrongWorkload: TxnAttempt = {
  id: 'txn-wrong-workload',
  path: 'txn-token',
  title: 'Mint a txn token from a workload that is not allowed',
  holds: 'client-secret',
  goal: (config) =>
    `With ${config.clientId}'s client secret and a user token it holds, request a txn token for trust domain "${config.trustDomain}".`,
  async run(config) {
    const request = await requestTxnToken(
      config,
      `request a txn token as ${config.clientId}`,
      config.userAccessToken,
      ACCESS_TOKEN_TYPE,
      'todos:read',
    )
    if (typeof request.answer.body.access_token === 'string') {
      return {
        steps: [request.step],
        verdict: 'LEAKED',
        reason: `the service issued a txn token to ${config.clientId}`,
      }
    }
    return {
      steps: [request.step],
      verdict: 'BLOCKED',
      reason: `the service refused it (${txnErrorOf(request.answer)}: ${config.clientId} is not one of its workloads)`,
    }
  },
}
