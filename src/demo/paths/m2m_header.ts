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
import { decodeClaims, describeTokenError, requestToken } from './http.js'
import { callServiceAndConclude, tokenFailure, tokenRequestRecord } from './outcome.js'
import type { PathResult, PathStrategy, PathTarget } from './types.js'

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
      const tokenRequest = tokenRequestRecord(
        { grantType: 'client_credentials', clientAuth: 'client_secret_basic' },
        form,
        answer,
      )
      const accessToken = answer.body.access_token
      if (answer.status !== 200 || typeof accessToken !== 'string') {
        return tokenFailure(
          M2M_HEADER_PATH,
          { started, tokens: [], tokenRequest },
          describeTokenError(answer),
        )
      }
      const issued = decodeClaims(accessToken)
      return callServiceAndConclude(target, M2M_HEADER_PATH, {
        started,
        tokens: [{ label: "App A's service token (client_credentials)", claims: issued }],
        tokenRequest,
        accessToken,
        issued,
        userSub,
        extraHeaders: userSub ? { [USER_HEADER]: userSub } : {},
      })
    },
  }
}
