/**
 * `onbehalf/resource/fastify`: the resource-server kit as a Fastify 5 plugin (Fastify is an
 * optional peer dependency: only this entry loads it). `bearerAuth` decorates
 * `request.accessToken`; `requireBearer` (or `fastify.requireBearer`) guards a route with a
 * verifier from `onbehalf/resource` and answers refusals per RFC 6750 §3.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { createAccessTokenVerifier } from 'onbehalf/resource'
 * import { bearerAuth } from 'onbehalf/resource/fastify'
 *
 * const verifier = createAccessTokenVerifier({ issuer, audience: 'app-b', jwksUri, requireActor: true })
 * const app = Fastify()
 * await app.register(bearerAuth, { realm: 'app-b' })
 * app.get('/api/todos', { preHandler: app.requireBearer({ verifier, scopes: ['todos:read'] }) },
 *   async (request) => ({ user: request.accessToken!.sub }))
 * ```
 *
 * @module
 */
export {
  bearerAuth,
  registerProtectedResourceMetadata,
  requireBearer,
  sendAuthError,
  type BearerAuthPluginOptions,
  type BearerHook,
  type RequireBearerOptions,
} from './bearer_auth.js'
export { receivedTxnToken, requireTxnToken, type RequireTxnTokenOptions } from './txn_token_auth.js'
