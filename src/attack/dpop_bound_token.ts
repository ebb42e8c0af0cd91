/**
 * The setup both DPoP attempts start from: App A, acting legitimately with its own DPoP key (held
 * in memory, never exported), exchanges a user token for App B and gets it bound to that key
 * (`cnf.jkt`, `token_type: DPoP`), then reads the todos with it under the `DPoP` scheme — so the
 * attempt that follows is refused because of the binding, not because the token is bad. The
 * attacker then holds the bound token (logged, leaked, intercepted) but not the key.
 */
import { createDpopKey } from '../client/dpop.js'
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../client/token_exchange_client.js'
import { callService, requestToken } from '../demo/paths/index.js'
import { describeToken, serviceStep, tokenRequestStep, type Answer } from './record.js'
import type { AttemptStep, LabContext } from './types.js'

export interface BoundTokenSetup {
  readonly steps: AttemptStep[]
  /** The bound token, or undefined when the IdP did not bind one (the answer says why). */
  readonly token: string | undefined
  readonly answer: Answer
}

/** A DPoP-scheme call's headers as recorded: the token described, the proof not reproduced. */
export function dpopHeadersRecorded(token: string): Record<string, string> {
  return { authorization: `DPoP ${describeToken(token)}`, dpop: '«DPoP proof»' }
}

export async function boundTokenForAppB(ctx: LabContext): Promise<BoundTokenSetup> {
  const key = await createDpopKey()
  const form = {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: ctx.attackerToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    audience: ctx.config.audience,
    scope: ctx.config.scope,
  }
  const answer = await requestToken(ctx.target, form, true, {
    dpop: await key.proof({ method: 'POST', url: ctx.tokenEndpoint }),
  })
  const steps = [
    tokenRequestStep(
      'App A exchanges with a DPoP proof from its own key',
      ctx.tokenEndpoint,
      form,
      ctx.config.clientId,
      answer,
    ),
  ]
  const token = answer.body.access_token
  if (answer.status !== 200 || typeof token !== 'string' || answer.body.token_type !== 'DPoP') {
    return { steps, token: undefined, answer }
  }
  const url = `${ctx.config.serviceUrl.replace(/\/+$/, '')}/api/todos`
  const call = await callService(
    ctx.target,
    '/api/todos',
    token,
    await key.authorizationHeaders({ method: 'GET', url, accessToken: token }),
  )
  steps.push(
    serviceStep(
      'App A reads the todos with the bound token and a fresh proof',
      ctx.target,
      '/api/todos',
      token,
      dpopHeadersRecorded(token),
      call,
    ),
  )
  return { steps, token, answer }
}
