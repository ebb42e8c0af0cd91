/**
 * respond: the token response of the re-issue, as authentik answers it: no refresh token, no
 * `issued_token_type`, `scope` only when some scope is left.
 */
import type { FederationDecision, FederationResponse } from './types.js'

export function buildFederationResponse(input: {
  readonly accessToken: string
  readonly decision: FederationDecision
}): FederationResponse {
  const { accessToken, decision } = input
  return Object.freeze({
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: decision.exp - decision.iat,
    ...(decision.scopes.length > 0 ? { scope: decision.scopes.join(' ') } : {}),
  })
}
