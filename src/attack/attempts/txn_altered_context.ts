/**
 * A live txn token with its context altered in transit: `sub` set to the victim, the scope
 * widened, a `tctx` value changed, the signature kept. The workload must refuse it: it verifies
 * the JWS signature (draft-ietf-oauth-transaction-tokens-10 §12.2), so the context is immutable
 * along the call chain (§9.2.3).
 */
import { callWithTxnToken, served, txnErrorOf } from '../txn_moves.js'
import type { TxnAttempt } from '../types.js'

export const txnAlteredContext: TxnAttempt = {
  id: 'txn-altered-context',
  path: 'txn-token',
  title: 'Alter the context of a txn token in transit',
  holds: 'captured-txn-token',
  goal: (config) =>
    `Rewrite a captured txn token's sub to ${config.victimSub}, widen its scope and change its tctx, keeping the signature.`,
  async run(config) {
    const token = await config.captured.fresh()
    const [header, payload, signature] = token.split('.')
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >
    const altered = {
      ...claims,
      sub: config.victimSub,
      scope: `${String(claims.scope ?? '')} admin`.trim(),
      tctx: { ...(claims.tctx as Record<string, unknown> | undefined), amount: 1_000_000 },
    }
    const forged = `${header}.${Buffer.from(JSON.stringify(altered)).toString('base64url')}.${signature}`
    const call = await callWithTxnToken(
      config,
      'send the altered txn token',
      config.workloadUrl,
      forged,
    )
    if (served(call.answer)) {
      return {
        steps: [call.step],
        verdict: 'LEAKED',
        reason: 'the workload acted on an altered txn token',
        reachedUser: config.victimSub,
      }
    }
    return {
      steps: [call.step],
      verdict: 'BLOCKED',
      reason: `the workload refused it (${txnErrorOf(call.answer)}: the signature no longer verifies)`,
    }
  },
}
