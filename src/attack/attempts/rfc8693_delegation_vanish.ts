/**
 * Delegation vanish (Keycloak #52691): a compromised App A holding its client secret takes a token
 * it obtained by delegation (`act` records App A) and exchanges it again with no actor token —
 * plain, as a JWT, by `resource` instead of `audience` — hoping the answer is routed by the
 * request's syntax and comes back without `act`, so App B would take it for the user acting
 * directly. The engine decides on what the token carries: the chain is kept and extended, never
 * dropped (here App A would appear twice, a cycle: refused).
 */
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../../client/token_exchange_client.js'
import { decodeClaims, requestToken } from '../../demo/paths/index.js'
import { tokenRequestStep } from '../record.js'
import { errorOf, exchangeThenRead } from '../token_then_read.js'
import type { Attempt, AttemptStep } from '../types.js'

const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'

export const rfc8693DelegationVanish: Attempt = {
  id: 'rfc8693-delegation-vanish',
  path: 'rfc8693',
  title: 'Re-exchange a delegated token without an actor to shed act',
  holds: 'client-secret',
  goal: (ctx) =>
    `With App A's client secret, exchange the delegated token App A holds for ${ctx.config.attacker.username} (act = App A) again without any actor token, for a token without act.`,
  async run(ctx) {
    // Control: the legitimate delegation works and records App A in act.
    const setup = await exchangeThenRead(
      ctx,
      'App A exchanges the user token (delegation, act = App A)',
      ctx.attackerToken,
    )
    const delegated = setup.answer.body.access_token
    if (typeof delegated !== 'string' || decodeClaims(delegated).act === undefined) {
      return {
        steps: setup.steps,
        verdict: 'LEAKED',
        reason: `the setup gave no delegated token (${errorOf(setup.answer)}): there was no act to shed`,
      }
    }
    const steps: AttemptStep[] = [...setup.steps]
    const variants: readonly [string, Record<string, string>][] = [
      ['re-exchange the delegated token, no actor token', { audience: ctx.config.audience }],
      [
        're-exchange it as a JWT (requested_token_type jwt)',
        { audience: ctx.config.audience, requested_token_type: JWT_TOKEN_TYPE },
      ],
      ['re-exchange it naming App B by resource', { resource: ctx.config.serviceUrl }],
    ]
    for (const [label, target] of variants) {
      const form = {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: delegated,
        subject_token_type: ACCESS_TOKEN_TYPE,
        scope: ctx.config.scope,
        ...target,
      }
      const answer = await requestToken(ctx.target, form, true)
      steps.push(tokenRequestStep(label, ctx.tokenEndpoint, form, ctx.config.clientId, answer))
      const issued = answer.body.access_token
      if (typeof issued === 'string' && decodeClaims(issued).act === undefined) {
        return {
          steps,
          verdict: 'LEAKED',
          reason: `${label}: the IdP issued a token without act — the delegation vanished`,
        }
      }
    }
    const answers = steps.slice(setup.steps.length).map((step) => step.response.status)
    return {
      steps,
      verdict: 'BLOCKED',
      reason: `no token without act was issued (answers ${answers.join(', ')}): what the subject carries decides, the chain is kept or the exchange refused`,
    }
  },
}
