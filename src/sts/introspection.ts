/**
 * RFC 7662 introspection at the STS, `POST /token/introspection` (the IdP's path), answered by the
 * engine's introspector (src/exchange/introspect.ts) over the STS's own keys: `active`, `sub`,
 * `aud`, `scope`, `client_id`, the whole `act` chain, `may_act`, `cnf`, `token_type`, `exp`, `iat`,
 * `iss`, `jti` — what Keycloak #53029 leaves out (`act`).
 *
 * Who may ask: a configured resource server (`introspection.resourceServers`: a client that is also
 * a target), authenticated by `client_secret_basic`/`client_secret_post` (a bad secret is 401
 * `invalid_client`); any other authenticated client is `unauthorized_client`. A resource server
 * learns only about tokens addressed to it; anything else is `{ active: false }`.
 *
 * Inactive: not signed by the STS's keys, not an access token of the STS (`iss`, `typ: at+jwt` — a
 * txn token is not introspected here), expired, or addressed to another resource server.
 * Revocation, honestly: the STS has no revocation endpoint and keeps no record of what it issued
 * (it is stateless, several instances share only keys), so it cannot learn that a subject token
 * was revoked at its upstream after the exchange. What bounds such a token is its lifetime: never
 * beyond the subject token's `exp` (lesson S17) nor `exchange.maxLifetimeSeconds`. Deployments
 * that need revocation across the chain use the embedded IdP, whose introspection follows it.
 */
import type { FastifyInstance } from 'fastify'
import {
  InvalidRequest,
  NO_STORE_HEADERS,
  type ClientAuthenticator,
  type GrantParams,
} from '../exchange/index.js'
import type { Introspector } from '../exchange/introspect.js'
import type { Logger } from '../log/logger.js'
import { authenticateCaller } from './authenticate_caller.js'

export const STS_INTROSPECTION_PATH = '/token/introspection'

export function registerIntrospectionRoute(
  scope: FastifyInstance,
  options: {
    readonly introspect: Introspector
    readonly authenticator: ClientAuthenticator
    readonly logger: Logger
  },
): void {
  const { introspect, authenticator, logger } = options
  scope.post(STS_INTROSPECTION_PATH, async (request, reply) => {
    const body = (request.body ?? {}) as GrantParams
    const client = authenticateCaller(authenticator, logger, request.headers.authorization, body)
    const token = body.token
    if (typeof token !== 'string' || token === '') {
      throw new InvalidRequest({ description: 'token is missing' })
    }
    const answer = await introspect({ token, client })
    logger.info(
      {
        event: 'token_introspected',
        component: 'sts',
        clientId: client.clientId,
        active: answer.active,
        ...(answer.active ? { jti: answer.jti } : {}),
      },
      'token introspected',
    )
    return reply.headers(NO_STORE_HEADERS).send(answer)
  })
}
