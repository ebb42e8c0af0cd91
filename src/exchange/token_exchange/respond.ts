/**
 * respond: the RFC 8693 §2.2.1 success body. Never a refresh token (lesson S16). The HTTP edges
 * send it with `NO_STORE_HEADERS` (../token_response.ts).
 *
 * @example
 * ```ts
 * reply.headers(NO_STORE_HEADERS).send(buildExchangeResponse({ accessToken, decision }))
 * ```
 */
import type { ExchangeDecision, ExchangeResponse } from './types.js'

export function buildExchangeResponse(input: {
  readonly accessToken: string
  readonly decision: ExchangeDecision
}): ExchangeResponse {
  const { accessToken, decision } = input
  return Object.freeze({
    access_token: accessToken,
    issued_token_type: decision.issuedTokenType,
    token_type: decision.jkt === undefined ? 'Bearer' : 'DPoP',
    expires_in: decision.exp - decision.iat,
    scope: decision.scopes.join(' '),
  })
}
