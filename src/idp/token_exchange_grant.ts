/**
 * RFC 8693 token exchange as an oidc-provider extension grant. Like oidc-provider's own
 * `lib/actions/grants/*.js` it exports what `registerGrantType` needs; its handler only adapts:
 * oidc-provider has parsed the body, authenticated the client and rejected repeated parameters
 * (except `audience` and `resource`); the engine in src/exchange decides everything else.
 * Engine errors are rethrown as oidc-provider errors so its error handler and `grant.error` event
 * keep working; the private reason travels as `error_detail`, which is logged, never sent.
 */
import { errors, type KoaContextWithOIDC } from 'oidc-provider'
import { GRANT_TYPE_TOKEN_EXCHANGE } from '../exchange/types.js'
import { OAuthError } from '../exchange/errors.js'
import type { AuthenticatedClient, TokenExchange } from '../exchange/index.js'

export const grantType = GRANT_TYPE_TOKEN_EXCHANGE

export const parameters = new Set([
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'audience',
  'resource',
  'scope',
])

/** RFC 8693 §2.1: only `audience` and `resource` may appear more than once. */
export const allowedDuplicateParameters = new Set(['audience', 'resource'])

function toProviderError(error: OAuthError): Error {
  const providerError = new errors.CustomOIDCProviderError(error.error, error.description, {
    detail: error.detail,
  })
  Object.assign(providerError, {
    status: error.statusCode,
    statusCode: error.statusCode,
    expose: error.statusCode < 500,
  })
  return providerError
}

export function createHandler(exchange: TokenExchange) {
  return async function tokenExchangeHandler(ctx: KoaContextWithOIDC): Promise<void> {
    const client = ctx.oidc.client!
    const authenticatedClient: AuthenticatedClient = {
      clientId: client.clientId,
      authMethod: client.clientAuthMethod as AuthenticatedClient['authMethod'],
    }
    try {
      ctx.body = await exchange.exchange({
        params: ctx.oidc.params as Record<string, string | string[] | undefined>,
        client: authenticatedClient,
      })
    } catch (error) {
      if (error instanceof OAuthError) throw toProviderError(error)
      throw error
    }
  }
}
