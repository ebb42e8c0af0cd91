/**
 * The transaction-token lab: runs every attempt of TXN_ATTEMPTS (attempts/index.ts) against a
 * Txn-Token Service and the workloads of its trust domain (draft-ietf-oauth-transaction-tokens-10)
 * and records each request, answer and verdict, as the main lab (lab.ts) does for the three paths.
 *
 * @example
 * ```ts
 * const report = await runTxnAttackLab({ tokenEndpoint, trustDomain, workloadUrl, … })
 * ```
 */
import { TXN_ATTEMPTS } from './attempts/index.js'
import type { TxnAttackReport, TxnLabConfig } from './types.js'

/** Runs every transaction-token attempt, one after the other. */
export async function runTxnAttackLab(config: TxnLabConfig): Promise<TxnAttackReport> {
  const attempts = []
  for (const attempt of TXN_ATTEMPTS) {
    attempts.push({
      id: attempt.id,
      path: attempt.path,
      title: attempt.title,
      goal: attempt.goal(config),
      holds: attempt.holds,
      ...(await attempt.run(config)),
    })
  }
  return Object.freeze({
    ranAt: new Date().toISOString(),
    trustDomain: config.trustDomain,
    attempts,
  })
}
