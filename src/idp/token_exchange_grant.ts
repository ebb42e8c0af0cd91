/**
 * RFC 8693 token exchange as an oidc-provider extension grant. Like oidc-provider's own
 * `lib/actions/grants/*.js` it exports what `registerGrantType` needs — `grantType`, `parameters`,
 * the parameters that may repeat, and a handler — taken from the engine's grant
 * (src/exchange/token_exchange/grant.ts). The handler only adapts: oidc-provider has parsed the
 * body, authenticated the client and rejected repeated parameters (except `audience` and
 * `resource`); the engine's runner decides everything else, and audits it — the `DPoP` proof
 * (RFC 9449) included: the handler passes the headers through, the engine verifies and binds.
 *
 * Engine errors are rethrown as oidc-provider errors so its error handler and `grant.error` event
 * keep working; the private reason travels as `error_detail`, which is logged, never sent.
 *
 * @example
 * ```ts
 * const adapter = createTokenExchangeAdapter(runner, createTokenExchangeGrant(deps))
 * provider.registerGrantType(adapter.grantType, adapter.handler, adapter.parameters, adapter.allowedDuplicateParameters)
 * ```
 */
import { errors, type KoaContextWithOIDC } from 'oidc-provider'
import { OAuthError } from '../exchange/errors.js'
import type { GrantRunner } from '../exchange/runner.js'
import type { TokenExchangeGrant } from '../exchange/token_exchange/grant.js'
import type { DpopInput } from '../exchange/token_exchange/types.js'
import type { AuthenticatedClient, GrantParams } from '../exchange/types.js'

/** An engine error as oidc-provider's: same code, status and public text, `detail` kept private. */
export function toProviderError(error: OAuthError): Error {
  const providerError = new errors.CustomOIDCProviderError(error.error, error.description, {
    detail: error.detail,
  })
  Object.assign(providerError, {
    // Kept for the server_error listeners (a database outage answers 503, src/idp/app.ts); never
    // written to the response.
    cause: error,
    status: error.statusCode,
    statusCode: error.statusCode,
    expose: error.statusCode < 500,
  })
  return providerError
}

/** The client oidc-provider authenticated, as the engine reads it. */
export function authenticatedClientOf(ctx: KoaContextWithOIDC): AuthenticatedClient {
  const client = ctx.oidc.client!
  return {
    clientId: client.clientId,
    authMethod: client.clientAuthMethod as AuthenticatedClient['authMethod'],
  }
}

/** Every value of one request header, as received (node keeps only some repeated headers). */
export function headerValues(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === name) values.push(rawHeaders[i + 1] ?? '')
  }
  return values
}

/**
 * The DPoP side of a token request at the OP: the proofs sent, and the method and URI a proof must
 * name — the token endpoint as discovery publishes it (oidc-provider's own `urlFor`).
 */
export function dpopInputOf(ctx: KoaContextWithOIDC): DpopInput {
  return {
    headers: headerValues(ctx.req.rawHeaders, 'dpop'),
    htm: ctx.method,
    htu: ctx.oidc.urlFor('token'),
  }
}

export interface ExtensionGrant {
  readonly grantType: string
  readonly parameters: Set<string>
  readonly allowedDuplicateParameters: Set<string>
  readonly handler: (ctx: KoaContextWithOIDC) => Promise<void>
}

export function createTokenExchangeAdapter(
  runner: GrantRunner,
  grant: TokenExchangeGrant,
): ExtensionGrant {
  return Object.freeze({
    grantType: grant.grantType,
    parameters: new Set(grant.parameters),
    allowedDuplicateParameters: new Set(grant.allowedDuplicateParameters),
    async handler(ctx: KoaContextWithOIDC): Promise<void> {
      try {
        ctx.body = await runner.run(grant, {
          params: ctx.oidc.params as GrantParams,
          client: authenticatedClientOf(ctx),
          dpop: dpopInputOf(ctx),
        })
      } catch (error) {
        if (error instanceof OAuthError) {
          // `DPoP-Nonce` (RFC 9449 §8) and the like: oidc-provider's error answer keeps them.
          for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value)
          throw toProviderError(error)
        }
        throw error
      }
    },
  })
}
