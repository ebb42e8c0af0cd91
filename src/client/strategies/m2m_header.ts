/**
 * Path 3, M2M + header (the workaround): App A gets a client_credentials token for its own service
 * account (`sub` = `client_id` = App A) and names the user in an `X-User-Sub` header. The user is
 * not in any signed token: App B has to trust App A's word.
 *
 * @example
 * ```ts
 * const result = await createM2mHeaderStrategy(target).run({ userAccessToken })
 * ```
 */
import { callService, decodeClaims, describeTokenError, requestToken } from './http.js'
import type { PathResult, PathStrategy, PathTarget, TokenRequestRecord } from './types.js'
import { computeVerdicts } from './verdicts.js'

export const M2M_HEADER_PATH = Object.freeze({
  id: 'm2m-header',
  title: 'M2M token + X-User-Sub header',
  pattern: 'workaround: client_credentials service token, user in a header',
  badge: 'orange',
  grantType: 'client_credentials',
} as const)

export const USER_HEADER = 'x-user-sub'

/** The service token request (App A's own credentials, HTTP Basic). */
export function serviceTokenForm(target: PathTarget): Record<string, string> {
  return { grant_type: 'client_credentials', scope: target.scope }
}

export function createM2mHeaderStrategy(target: PathTarget): PathStrategy {
  return {
    id: M2M_HEADER_PATH.id,
    async run({ userAccessToken }): Promise<PathResult> {
      const started = performance.now()
      const userClaims = decodeClaims(userAccessToken)
      const userSub = typeof userClaims.sub === 'string' ? userClaims.sub : undefined
      const form = serviceTokenForm(target)
      const answer = await requestToken(target, form, true)
      const tokenRequest: TokenRequestRecord = {
        grantType: 'client_credentials',
        clientAuth: 'client_secret_basic',
        parameters: Object.keys(form),
        status: answer.status,
        ...(typeof answer.body.error === 'string' ? { error: answer.body.error } : {}),
        ...(typeof answer.body.error_description === 'string'
          ? { description: answer.body.error_description }
          : {}),
      }
      const base = { ...M2M_HEADER_PATH, tokens: [], tokenRequest }
      const accessToken = answer.body.access_token
      if (answer.status !== 200 || typeof accessToken !== 'string') {
        return {
          ...base,
          ok: false,
          error: { stage: 'token', message: describeTokenError(answer) },
          durationMs: performance.now() - started,
        }
      }
      const issued = decodeClaims(accessToken)
      const { body: _body, ...serviceCall } = await callService(
        target,
        '/api/todos/count',
        accessToken,
        userSub ? { [USER_HEADER]: userSub } : {},
      )
      const ok = serviceCall.status === 200
      return {
        ...base,
        tokens: [{ label: "App A's service token (client_credentials)", claims: issued }],
        ok,
        serviceCall,
        verdicts: computeVerdicts({
          issued,
          userSub,
          actor: target.clientId,
          request: tokenRequest,
        }),
        ...(ok
          ? {}
          : {
              error: {
                stage: 'service' as const,
                message: `App B answered ${serviceCall.status} ${serviceCall.error ?? ''}`.trim(),
              },
            }),
        durationMs: performance.now() - started,
      }
    },
  }
}
