/**
 * RFC 8693 with a tampered subject token: the attacker's real token with sub changed to the
 * victim's, header and signature kept. The IdP must refuse it (the signature no longer matches).
 */
import { tamperPayload } from '../forge.js'
import { exchangeThenRead, refusedOrServed } from '../token_then_read.js'
import type { Attempt } from '../types.js'

export const rfc8693TamperedSubject: Attempt = {
  id: 'rfc8693-tampered-subject',
  path: 'rfc8693',
  title: 'Exchange a tampered subject token claiming the victim',
  holds: 'client-secret',
  goal: (ctx) =>
    `Take ${ctx.config.attacker.username}'s real token, change sub to ${ctx.config.victim.username}, keep the signature, and exchange it.`,
  async run(ctx) {
    const tampered = tamperPayload(ctx.attackerToken, { sub: ctx.config.victim.sub })
    return refusedOrServed(
      ctx,
      await exchangeThenRead(ctx, 'exchange the tampered token', tampered),
      'the IdP',
    )
  },
}
