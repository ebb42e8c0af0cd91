/**
 * Path 1, RFC 8693 token exchange: App A authenticates (client_secret_basic) and trades the user's
 * access token for one addressed to the target; the new token names the user (`sub`) and App A
 * (`act`).
 *
 * @example
 * ```ts
 * const result = await createRfc8693Strategy(target, { exchanger }).run({ userAccessToken })
 * ```
 */
import {
  createTokenExchangeClient,
  TOKEN_EXCHANGE_GRANT,
  TokenExchangeError,
  type TokenExchangeClient,
} from '../../client/token_exchange_client.js'
import { decodeClaims } from './http.js'
import { callServiceAndConclude, tokenFailure } from './outcome.js'
import type { PathResult, PathStrategy, PathTarget, TokenRequestRecord } from './types.js'

export const RFC8693_PATH = Object.freeze({
  id: 'rfc8693',
  title: 'RFC 8693 token exchange',
  pattern: 'standard: OAuth 2.0 Token Exchange (RFC 8693), delegation',
  badge: 'green',
  grantType: TOKEN_EXCHANGE_GRANT,
} as const)

/**
 * Path 4, RFC 8693 at the onbehalf STS: the same exchange, sent to the standalone token service
 * that trusts the IdP's tokens (for IdPs that lack RFC 8693). The STS issues the new token under
 * its own issuer; App B trusts both.
 */
export const RFC8693_STS_PATH = Object.freeze({
  id: 'rfc8693-sts',
  title: 'RFC 8693 via onbehalf STS',
  pattern: 'standard: RFC 8693 at a token service beside the IdP (onbehalf STS)',
  badge: 'green',
  grantType: TOKEN_EXCHANGE_GRANT,
} as const)

export type Rfc8693Path = typeof RFC8693_PATH | typeof RFC8693_STS_PATH

const PARAMETERS = ['grant_type', 'subject_token', 'subject_token_type', 'audience', 'scope']

export function createRfc8693Strategy(
  target: PathTarget,
  options: { readonly exchanger?: TokenExchangeClient; readonly path?: Rfc8693Path } = {},
): PathStrategy {
  const path = options.path ?? RFC8693_PATH
  const exchanger =
    options.exchanger ??
    createTokenExchangeClient({
      tokenEndpoint: target.tokenEndpoint,
      clientId: target.clientId,
      clientSecret: target.clientSecret,
      ...(target.fetch ? { fetch: target.fetch } : {}),
    })
  return {
    id: path.id,
    async run({ userAccessToken }): Promise<PathResult> {
      const started = performance.now()
      const userClaims = decodeClaims(userAccessToken)
      const tokens = [{ label: "User's token (aud App A)", claims: userClaims }]
      let exchanged
      try {
        exchanged = await exchanger.exchange({
          subjectToken: userAccessToken,
          audience: target.audience,
          scope: target.scope,
        })
      } catch (error) {
        if (!(error instanceof TokenExchangeError)) throw error
        const tokenRequest: TokenRequestRecord = {
          grantType: TOKEN_EXCHANGE_GRANT,
          clientAuth: 'client_secret_basic',
          parameters: PARAMETERS,
          status: error.statusCode ?? 0,
          error: error.error,
          ...(error.description ? { description: error.description } : {}),
        }
        return tokenFailure(path, { started, tokens, tokenRequest }, error.message)
      }
      const issued = exchanged.claims ?? decodeClaims(exchanged.accessToken)
      return callServiceAndConclude(target, path, {
        started,
        tokens: [...tokens, { label: 'Exchanged token (aud App B)', claims: issued }],
        tokenRequest: {
          grantType: TOKEN_EXCHANGE_GRANT,
          clientAuth: 'client_secret_basic',
          parameters: PARAMETERS,
          status: 200,
        },
        accessToken: exchanged.accessToken,
        issued,
        userSub: typeof userClaims.sub === 'string' ? userClaims.sub : undefined,
      })
    },
  }
}
