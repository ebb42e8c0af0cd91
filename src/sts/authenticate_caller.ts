/**
 * Client authentication for the STS's endpoints (token, introspection): the engine's authenticator,
 * and a refused caller logged once, with the reason kept private (`detail`, never a secret), before
 * the OAuth error goes back to the route's error handler.
 */
import {
  OAuthError,
  type AuthenticatedClient,
  type ClientAuthenticator,
  type GrantParams,
} from '../exchange/index.js'
import type { Logger } from '../log/logger.js'

export function authenticateCaller(
  authenticator: ClientAuthenticator,
  logger: Logger,
  authorization: string | undefined,
  body: GrantParams,
): AuthenticatedClient {
  try {
    return authenticator.authenticate({ authorizationHeader: authorization, body })
  } catch (error) {
    if (error instanceof OAuthError) {
      logger.info(
        { event: 'client_authentication_failed', component: 'sts', detail: error.detail },
        'client authentication failed',
      )
    }
    throw error
  }
}
