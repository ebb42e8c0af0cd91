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
import { callService, decodeClaims, describeTokenError, requestToken } from './http.js'
import type { PathResult, PathStrategy, PathTarget, TokenRequestRecord } from './types.js'
import { computeVerdicts } from './verdicts.js'

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
      const tokenRequest: TokenRequestRecord = {
        grantType: 'client_credentials',
        clientAuth: 'none',
        parameters: Object.keys(form),
        status: answer.status,
        ...(typeof answer.body.error === 'string' ? { error: answer.body.error } : {}),
        ...(typeof answer.body.error_description === 'string'
          ? { description: answer.body.error_description }
          : {}),
      }
      const base = { ...JWT_FEDERATION_PATH, tokens, tokenRequest }
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
      )
      const ok = serviceCall.status === 200
      return {
        ...base,
        tokens: [...tokens, { label: 'Re-issued token (aud App B)', claims: issued }],
        ok,
        serviceCall,
        verdicts: computeVerdicts({
          issued,
          userSub: typeof userClaims.sub === 'string' ? userClaims.sub : undefined,
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
