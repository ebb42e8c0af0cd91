/**
 * RFC 7662 introspection at the IdP, `POST /token/introspection`, for the JWT access tokens it
 * issued — login tokens and every token it exchanged. oidc-provider cannot do this (it refuses to
 * introspect structured tokens), so the route is the IdP's own, answered by the engine's
 * introspector (src/exchange/introspect.ts) over the issued-token registry, which follows a
 * token's parents: revoking a grant or any token of a chain makes every token exchanged from it
 * inactive here at once.
 *
 * Client authentication (`client_secret_basic` / `client_secret_post`) against the policy's client
 * secrets; a failure is 401 `invalid_client`. Form bodies only, answers never cached. The
 * per-IP token-endpoint limit in front of `/token…` covers this route too.
 */
import formbody from '@fastify/formbody'
import type { FastifyInstance } from 'fastify'
import { createClientAuthenticator } from '../exchange/authenticate_client.js'
import { InvalidRequest, OAuthError, toErrorResponse } from '../exchange/errors.js'
import type { Introspector } from '../exchange/introspect.js'
import { NO_STORE_HEADERS } from '../exchange/token_response.js'
import type { GrantParams } from '../exchange/types.js'
import type { Logger } from '../log/logger.js'

export const INTROSPECTION_PATH = '/token/introspection'

export async function introspectionRoutes(
  app: FastifyInstance,
  options: {
    readonly introspect: Introspector
    readonly clientSecrets: ReadonlyMap<string, string>
    readonly logger: Logger
  },
): Promise<void> {
  const authenticator = createClientAuthenticator(
    new Map(
      [...options.clientSecrets].map(([clientId, secret]) => [clientId, { clientId, secret }]),
    ),
  )
  app.removeAllContentTypeParsers()
  await app.register(formbody, { bodyLimit: 16 * 1024 })
  app.setErrorHandler((error, _request, reply) => {
    const oauth =
      error instanceof OAuthError
        ? error
        : typeof (error as { statusCode?: unknown }).statusCode === 'number' &&
            (error as { statusCode: number }).statusCode < 500
          ? new InvalidRequest({ description: 'request body is invalid' })
          : error
    const { statusCode, body, headers } = toErrorResponse(oauth)
    return reply
      .code(statusCode)
      .headers({ ...NO_STORE_HEADERS, ...headers })
      .send(body)
  })
  app.post(INTROSPECTION_PATH, async (request, reply) => {
    const body = (request.body ?? {}) as GrantParams
    const client = authenticator.authenticate({
      authorizationHeader: request.headers.authorization,
      body,
    })
    const token = body.token
    if (typeof token !== 'string' || token === '') {
      throw new InvalidRequest({ description: 'token is missing' })
    }
    const answer = await options.introspect({ token, client })
    options.logger.info(
      {
        event: 'token_introspected',
        clientId: client.clientId,
        active: answer.active,
        ...(answer.active ? { jti: answer.jti } : {}),
      },
      'token introspected',
    )
    return reply.headers(NO_STORE_HEADERS).send(answer)
  })
}
