/**
 * M2M + header path: App A's own service token (client_credentials with its secret) and an
 * X-User-Sub header naming the victim. LEAKED when App B serves the victim: App A's secret plus a
 * header is all it takes, no token of the victim's is involved.
 */
import { callService, requestToken, serviceTokenForm, USER_HEADER } from '../../demo/paths/index.js'
import { serviceStep, tokenRequestStep } from '../record.js'
import { errorOf } from '../token_then_read.js'
import type { Attempt } from '../types.js'

export const m2mHeaderForgery: Attempt = {
  id: 'm2m-header-forgery',
  path: 'm2m-header',
  title: 'Header forgery on the M2M + header path',
  holds: 'client-secret',
  goal: (ctx) =>
    `Get App A's own service token, then ask App B for ${ctx.config.victim.username}'s todos by writing her sub in X-User-Sub.`,
  async run(ctx) {
    const form = serviceTokenForm(ctx.target)
    const answer = await requestToken(ctx.target, form, true)
    const steps = [
      tokenRequestStep(
        "client_credentials with App A's secret",
        ctx.tokenEndpoint,
        form,
        ctx.config.clientId,
        answer,
      ),
    ]
    const token = answer.body.access_token
    if (answer.status !== 200 || typeof token !== 'string') {
      return { steps, verdict: 'BLOCKED', reason: `no service token: ${errorOf(answer)}` }
    }
    const headers = { [USER_HEADER]: ctx.config.victim.sub }
    const call = await callService(ctx.target, '/api/todos', token, headers)
    steps.push(
      serviceStep(
        `read todos with X-User-Sub = ${ctx.config.victim.username}`,
        ctx.target,
        '/api/todos',
        token,
        headers,
        call,
      ),
    )
    if (call.status === 200 && call.user === ctx.config.victim.sub) {
      return {
        steps,
        verdict: 'LEAKED',
        reachedUser: call.user,
        reason: `App B served ${ctx.config.victim.username}'s ${call.count ?? 0} todos (decidedBy ${call.decidedBy}): App A's secret plus a header naming her is all it takes — no token of hers was involved.`,
      }
    }
    return {
      steps,
      verdict: 'BLOCKED',
      ...(call.user ? { reachedUser: call.user } : {}),
      reason:
        call.status === 200
          ? `App B served ${call.user} (decidedBy ${call.decidedBy}), not ${ctx.config.victim.username}${call.headerIgnored ? `: ${call.headerIgnored}` : ''}`
          : `App B refused: ${call.status} ${call.error ?? ''}`.trim(),
    }
  },
}
