/**
 * JWT federation path with a self-signed assertion claiming the victim. The IdP must refuse it:
 * the assertion's signature is checked against the issuer's keys.
 */
import { forgeSelfSigned, headerKid, victimClaims } from '../forge.js'
import { errorOf, federationThenRead } from '../token_then_read.js'
import type { Attempt } from '../types.js'

export const federationForgedAssertion: Attempt = {
  id: 'federation-forged-assertion',
  path: 'jwt-federation',
  title: 'A self-signed assertion claiming the victim through the federation path',
  holds: 'client-secret',
  goal: (ctx) =>
    `Sign a token that says sub = ${ctx.config.victim.username} with a made-up key and post it as client_assertion.`,
  async run(ctx) {
    const forged = forgeSelfSigned(victimClaims(ctx), headerKid(ctx.attackerToken))
    const run = await federationThenRead(ctx, 'client_assertion = self-signed token', forged)
    if (run.served && run.served.status === 200 && run.served.user === ctx.config.victim.sub) {
      return {
        steps: run.steps,
        verdict: 'LEAKED',
        reachedUser: run.served.user,
        reason: `App B served ${ctx.config.victim.username}'s todos`,
      }
    }
    return {
      steps: run.steps,
      verdict: run.issued ? 'LEAKED' : 'BLOCKED',
      reason: run.issued
        ? 'the IdP re-issued a forged assertion'
        : `the IdP refused it: ${errorOf(run.answer)} (the assertion's signature is checked)`,
    }
  },
}
