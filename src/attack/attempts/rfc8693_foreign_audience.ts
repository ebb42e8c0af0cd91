/**
 * RFC 8693 toward an audience App A's exchange policy does not list (App A itself by default).
 * The IdP must refuse it: per-client allowed audiences (lesson S1).
 */
import { errorOf, exchangeThenRead } from '../token_then_read.js'
import type { Attempt, LabContext } from '../types.js'

const foreignAudienceOf = (ctx: LabContext) => ctx.config.forbiddenAudience ?? ctx.config.clientId

export const rfc8693ForeignAudience: Attempt = {
  id: 'rfc8693-foreign-audience',
  path: 'rfc8693',
  title: 'Exchange toward an audience App A is not allowed',
  holds: 'client-secret',
  goal: (ctx) =>
    `Exchange ${ctx.config.attacker.username}'s token for audience "${foreignAudienceOf(ctx)}", which App A's exchange policy does not list.`,
  async run(ctx) {
    const audience = foreignAudienceOf(ctx)
    const run = await exchangeThenRead(
      ctx,
      `exchange for audience ${audience}`,
      ctx.attackerToken,
      {
        audience,
      },
    )
    if (!run.issued) {
      return {
        steps: run.steps,
        verdict: 'BLOCKED',
        reason: `the IdP refused it: ${errorOf(run.answer)} (per-client allowed audiences, lesson S1)`,
      }
    }
    return { steps: run.steps, verdict: 'LEAKED', reason: `the IdP issued a token for ${audience}` }
  },
}
