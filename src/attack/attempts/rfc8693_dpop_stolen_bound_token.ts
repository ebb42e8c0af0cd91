/**
 * A stolen DPoP-bound token replayed without its key (RFC 9449 §7). App B must refuse it both as a
 * bearer token and under the `DPoP` scheme with a proof from the attacker's own key.
 */
import { createDpopKey } from '../../client/dpop.js'
import { callService } from '../../demo/paths/index.js'
import { boundTokenForAppB, dpopHeadersRecorded } from '../dpop_bound_token.js'
import { serviceStep } from '../record.js'
import { errorOf } from '../token_then_read.js'
import type { Attempt } from '../types.js'

export const rfc8693DpopStolenBoundToken: Attempt = {
  id: 'rfc8693-dpop-stolen-bound-token',
  path: 'rfc8693',
  title: 'A stolen DPoP-bound token, replayed without its key',
  holds: 'stolen-user-token',
  goal: (ctx) =>
    `Holding a DPoP-bound App B token App A obtained for ${ctx.config.attacker.username} (but not App A's key), read the todos with it: as a bearer token, and with a proof from another key.`,
  async run(ctx) {
    const setup = await boundTokenForAppB(ctx)
    const { steps, token } = setup
    if (token === undefined) {
      return {
        steps,
        verdict: 'LEAKED',
        reason: `the IdP issued no DPoP-bound token (${errorOf(setup.answer)}): a stolen token would be a bearer token`,
      }
    }
    const asBearer = await callService(ctx.target, '/api/todos', token)
    steps.push(
      serviceStep('replay it as a bearer token', ctx.target, '/api/todos', token, {}, asBearer),
    )
    const attackerKey = await createDpopKey()
    const url = `${ctx.config.serviceUrl.replace(/\/+$/, '')}/api/todos`
    const withOwnKey = await callService(
      ctx.target,
      '/api/todos',
      token,
      await attackerKey.authorizationHeaders({ method: 'GET', url, accessToken: token }),
    )
    steps.push(
      serviceStep(
        "replay it under DPoP with a proof from the attacker's key",
        ctx.target,
        '/api/todos',
        token,
        dpopHeadersRecorded(token),
        withOwnKey,
      ),
    )
    const served = [asBearer, withOwnKey].find((call) => call.status === 200)
    if (served) {
      return {
        steps,
        verdict: 'LEAKED',
        ...(served.user ? { reachedUser: served.user } : {}),
        reason: 'App B served the todos for a bound token without a proof from its key',
      }
    }
    return {
      steps,
      verdict: 'BLOCKED',
      reason: `App B refused both replays (${errorOf(asBearer)}; ${errorOf(withOwnKey)}): the token is bound to App A's key (cnf.jkt)`,
    }
  },
}
