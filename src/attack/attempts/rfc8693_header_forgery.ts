/**
 * RFC 8693 path with a forged header: exchange the attacker's own token properly, then add
 * X-User-Sub naming the victim to the call. BLOCKED when App B serves the token's user and says
 * it ignored the header.
 */
import { USER_HEADER } from '../../demo/paths/index.js'
import { errorOf, exchangeThenRead } from '../token_then_read.js'
import type { Attempt } from '../types.js'

export const rfc8693HeaderForgery: Attempt = {
  id: 'rfc8693-header-forgery',
  path: 'rfc8693',
  title: 'Header forgery alongside a valid RFC 8693 token',
  holds: 'client-secret',
  goal: (ctx) =>
    `Exchange ${ctx.config.attacker.username}'s own token properly, then add X-User-Sub = ${ctx.config.victim.username} to the call.`,
  async run(ctx) {
    const headers = { [USER_HEADER]: ctx.config.victim.sub }
    const run = await exchangeThenRead(
      ctx,
      `exchange ${ctx.config.attacker.username}'s token (RFC 8693)`,
      ctx.attackerToken,
      { headers },
    )
    if (!run.served)
      return {
        steps: run.steps,
        verdict: 'BLOCKED',
        reason: `exchange refused: ${errorOf(run.answer)}`,
      }
    const body = run.served.body
    if (run.served.status === 200 && run.served.user === ctx.config.victim.sub) {
      return {
        steps: run.steps,
        verdict: 'LEAKED',
        reachedUser: run.served.user,
        reason: `App B honoured the header over the token's sub (decidedBy ${String(body.decidedBy)})`,
      }
    }
    return {
      steps: run.steps,
      verdict: 'BLOCKED',
      ...(run.served.user ? { reachedUser: run.served.user } : {}),
      reason:
        run.served.status === 200
          ? `App B served the token's own user (${ctx.config.attacker.username}, decidedBy ${String(body.decidedBy)}); ${String(body.headerIgnored ?? 'header ignored')}`
          : `App B refused: ${errorOf(run.served)}`,
    }
  },
}
