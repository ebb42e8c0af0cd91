/**
 * Binding stripping (Keycloak #50963): a compromised App A that has its client secret but not its
 * DPoP key re-exchanges a DPoP-bound token without a proof, hoping for a plain bearer token. The
 * engine must refuse: a bound subject token is exchangeable only with a proof from its key.
 */
import { boundTokenForAppB } from '../dpop_bound_token.js'
import { exchangeThenRead, refusedOrServed } from '../token_then_read.js'
import { errorOf } from '../token_then_read.js'
import type { Attempt } from '../types.js'

export const rfc8693DpopBindingStripping: Attempt = {
  id: 'rfc8693-dpop-binding-stripping',
  path: 'rfc8693',
  title: 'Strip the DPoP binding by exchanging the bound token again',
  holds: 'client-secret',
  goal: (ctx) =>
    `With App A's client secret but not its DPoP key, exchange the DPoP-bound token App A obtained for ${ctx.config.attacker.username} again, without a proof, for an unbound bearer token.`,
  async run(ctx) {
    const setup = await boundTokenForAppB(ctx)
    if (setup.token === undefined) {
      return {
        steps: setup.steps,
        verdict: 'LEAKED',
        reason: `the IdP issued no DPoP-bound token (${errorOf(setup.answer)}): there was no binding to strip`,
      }
    }
    const run = await exchangeThenRead(ctx, 'exchange the bound token without a proof', setup.token)
    const outcome = refusedOrServed(ctx, run, 'the IdP')
    return { ...outcome, steps: [...setup.steps, ...run.steps] }
  },
}
