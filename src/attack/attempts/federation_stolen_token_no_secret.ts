/**
 * JWT federation path with a stolen user token and no client secret at all: the token posted as
 * client_assertion with client_id = App B. LEAKED when the IdP re-issues it and App B serves that
 * user: whoever holds a user's App A token gets App B as that user.
 */
import { errorOf, federationThenRead } from '../token_then_read.js'
import type { Attempt } from '../types.js'

export const federationStolenTokenNoSecret: Attempt = {
  id: 'federation-stolen-token-no-secret',
  path: 'jwt-federation',
  title: 'A stolen user token through the federation path, no client secret at all',
  holds: 'stolen-user-token',
  goal: (ctx) =>
    `Holding only a user's App A access token (here ${ctx.config.attacker.username}'s, standing in for a stolen one), post it as client_assertion with client_id=${ctx.config.audience} and no secret.`,
  async run(ctx) {
    const run = await federationThenRead(
      ctx,
      'client_credentials + client_assertion, no secret',
      ctx.attackerToken,
    )
    if (run.served && run.served.status === 200) {
      return {
        steps: run.steps,
        verdict: 'LEAKED',
        ...(run.served.user ? { reachedUser: run.served.user } : {}),
        reason: `the IdP issued an App B token without any client authentication and App B served that user's ${run.served.count ?? 0} todos: whoever holds a user's App A token gets App B as that user`,
      }
    }
    return {
      steps: run.steps,
      verdict: 'BLOCKED',
      reason: run.served
        ? `App B refused the re-issued token: ${errorOf(run.served)}`
        : `the IdP refused it: ${errorOf(run.answer)}`,
    }
  },
}
