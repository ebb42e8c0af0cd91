/**
 * RFC 8693 with a stolen user token and no client authentication. The IdP must refuse it: token
 * exchange is for confidential clients only.
 */
import { errorOf, exchangeThenRead } from '../token_then_read.js'
import type { Attempt } from '../types.js'

export const rfc8693StolenTokenNoSecret: Attempt = {
  id: 'rfc8693-stolen-token-no-secret',
  path: 'rfc8693',
  title: 'A stolen user token through RFC 8693, without a client secret',
  holds: 'stolen-user-token',
  goal: (ctx) =>
    `Holding only a user's App A access token (here ${ctx.config.attacker.username}'s, standing in for a stolen one), exchange it with no client authentication.`,
  async run(ctx) {
    const run = await exchangeThenRead(
      ctx,
      'exchange without client authentication',
      ctx.attackerToken,
      { authenticate: false },
    )
    if (!run.served || run.served.status !== 200) {
      return {
        steps: run.steps,
        verdict: 'BLOCKED',
        reason: `the IdP refused it: ${errorOf(run.answer)} (token exchange needs a confidential client)`,
      }
    }
    return {
      steps: run.steps,
      verdict: 'LEAKED',
      ...(run.served.user ? { reachedUser: run.served.user } : {}),
      reason: 'the IdP exchanged a token for a caller that did not authenticate',
    }
  },
}
