/**
 * Path 2, JWT federation re-issue (pattern: authentik's "JWT authentication"): App A posts
 * `grant_type=client_credentials`, `client_id=<target>`, a jwt-bearer `client_assertion` = the
 * user's App A access token, and NO client secret. The IdP answers with a token whose
 * `aud` = `azp` = `client_id` = the target; nothing records App A.
 *
 * @example
 * ```ts
 * const result = await createJwtFederationStrategy(target).run({ userAccessToken })
 * ```
 */
import { decodeClaims, describeTokenError, requestToken } from './http.js'
import { callServiceAndConclude, tokenFailure, tokenRequestRecord } from './outcome.js'
import type { PathResult, PathStrategy, PathTarget } from './types.js'

export const CLIENT_ASSERTION_TYPE_JWT_BEARER =
  'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

export const JWT_FEDERATION_PATH = Object.freeze({
  id: 'jwt-federation',
  title: 'JWT federation re-issue',
  pattern: 'pattern: authentik "JWT authentication" (client_credentials + client_assertion)',
  badge: 'yellow',
  grantType: 'client_credentials + jwt-bearer client_assertion',
} as const)

/** The form of the request; `scope` adds `openid` as authentik clients send it. */
export function federationForm(target: PathTarget, assertion: string): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_id: target.audience,
    client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
    client_assertion: assertion,
    scope: `openid ${target.scope}`,
  }
}

export function createJwtFederationStrategy(target: PathTarget): PathStrategy {
  return {
    id: JWT_FEDERATION_PATH.id,
    async run({ userAccessToken }): Promise<PathResult> {
      const started = performance.now()
      const userClaims = decodeClaims(userAccessToken)
      const tokens = [{ label: "User's token, sent as client_assertion", claims: userClaims }]
      const form = federationForm(target, userAccessToken)
      const answer = await requestToken(target, form, false)
      const tokenRequest = tokenRequestRecord(
        { grantType: 'client_credentials', clientAuth: 'none' },
        form,
        answer,
      )
      const accessToken = answer.body.access_token
      if (answer.status !== 200 || typeof accessToken !== 'string') {
        return tokenFailure(
          JWT_FEDERATION_PATH,
          { started, tokens, tokenRequest },
          describeTokenError(answer),
        )
      }
      const issued = decodeClaims(accessToken)
      return callServiceAndConclude(target, JWT_FEDERATION_PATH, {
        started,
        tokens: [...tokens, { label: 'Re-issued token (aud App B)', claims: issued }],
        tokenRequest,
        accessToken,
        issued,
        userSub: typeof userClaims.sub === 'string' ? userClaims.sub : undefined,
      })
    },
  }
}
