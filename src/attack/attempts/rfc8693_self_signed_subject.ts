/**
 * RFC 8693 with a forged subject token: claims the victim's sub, signed with a key the attacker
 * made up under the IdP's `kid`. The IdP must refuse it (the signature is checked against its keys).
 */
import { forgeSelfSigned, headerKid, victimClaims } from '../forge.js'
import { exchangeThenRead, refusedOrServed } from '../token_then_read.js'
import type { Attempt } from '../types.js'

export const rfc8693SelfSignedSubject: Attempt = {
  id: 'rfc8693-self-signed-subject',
  path: 'rfc8693',
  title: 'Exchange a self-signed subject token claiming the victim',
  holds: 'client-secret',
  goal: (ctx) =>
    `Sign a token that says sub = ${ctx.config.victim.username} with a key the attacker made up (under the IdP's kid) and exchange it.`,
  async run(ctx) {
    const forged = forgeSelfSigned(victimClaims(ctx), headerKid(ctx.attackerToken))
    return refusedOrServed(
      ctx,
      await exchangeThenRead(ctx, 'exchange the self-signed token', forged),
      'the IdP',
    )
  },
}
