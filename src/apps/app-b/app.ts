/**
 * App B: a todo list. Users manage their own list in the browser (OIDC sign-in through the web
 * kit); other services read it through the service API with a bearer token addressed to App B,
 * typically obtained by RFC 8693 token exchange (App A acting for the user).
 *
 * Two sibling contexts, so neither sees the other's hooks: the service API (bearer only, no cookie
 * parsing, no session) and the web UI (sessions, CSRF, helmet, OIDC). `buildAppB` returns a ready,
 * not listening, instance; the launcher calls `listen`.
 */
import { join } from 'node:path'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type { Env } from '../../config/env.js'
import { issuerForClient, jwksUriForIssuer } from '../../idp_profiles/index.js'
import { fastifyLogOptions, type Logger } from '../../log/logger.js'
import {
  createAccessTokenVerifier,
  createTrustedIssuersVerifier,
  type AccessTokenVerifier,
} from '../../resource/index.js'
import { SERVICE_API_SCOPE, serviceApi } from './service_api.js'
import { openTodoStore, type TodoStore } from './todo_store.js'
import { webUi } from './web_ui.js'

export interface BuildAppBOptions {
  readonly env: Env
  readonly logger: Logger
  /** Defaults to `${DATA_DIR}/app-b.sqlite`, closed with the app. A given store is left open. */
  readonly store?: TodoStore
  /** Defaults to a verifier for `IDP_ISSUER`'s JWKS, audience `APP_B_CLIENT_ID`. */
  readonly verifier?: AccessTokenVerifier
  /** Who may call the service API. Default: `APP_B_ALLOWED_CALLERS`. */
  readonly allowedCallers?: readonly string[]
  /** Callers whose own token may name the user in `X-User-Sub`. Default: `APP_B_TRUSTED_HEADER_CALLERS`. */
  readonly trustedHeaderCallers?: readonly string[]
}

/** The verifier App B uses for its service API. */
/**
 * The verifier App B uses for its service API. It trusts, each with its own keys, the issuers of
 * the IdP that App A's and App B's tokens come from (one issuer, or one per application on
 * authentik) and the onbehalf STS (which exchanges IdP tokens when the IdP cannot).
 */
export function createAppBVerifier(
  env: Env,
  allowedCallers?: readonly string[],
): AccessTokenVerifier {
  return createTrustedIssuersVerifier(
    [
      ...new Set([
        issuerForClient(env.idp, env.APP_A_CLIENT_ID),
        issuerForClient(env.idp, env.APP_B_CLIENT_ID),
        env.STS_ISSUER,
      ]),
    ].map((issuer) =>
      createAccessTokenVerifier({
        issuer,
        audience: env.APP_B_CLIENT_ID,
        // The STS publishes at /jwks; the IdP where its profile says (Keycloak, authentik differ).
        jwksUri: issuer === env.STS_ISSUER ? `${issuer}/jwks` : jwksUriForIssuer(env.idp, issuer),
        allowedCallers: allowedCallers ?? env.APP_B_ALLOWED_CALLERS,
        requiredScopes: [SERVICE_API_SCOPE],
      }),
    ),
  )
}

/**
 * @example
 * const app = await buildAppB({ env: loadEnv(), logger: createLogger() })
 * await app.listen({ host: env.HOST, port: env.APP_B_PORT })
 */
export async function buildAppB(options: BuildAppBOptions): Promise<FastifyInstance> {
  const { env, logger } = options
  const verifier = options.verifier ?? createAppBVerifier(env, options.allowedCallers)
  const ownsStore = options.store === undefined
  const store = options.store ?? openTodoStore(join(env.DATA_DIR, 'app-b.sqlite'))

  const app = Fastify({
    // Request lines go through the redacting serializer: no token-bearing query value is logged.
    ...fastifyLogOptions(logger, 'app-b'),
    bodyLimit: 64 * 1024,
  })
  if (ownsStore) app.addHook('onClose', async () => store.close())

  // Outside the web context: JSON errors, 5xx without their message.
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const status =
      typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600
        ? error.statusCode
        : 500
    if (status >= 500) request.log.error({ err: error }, 'request failed')
    return reply.code(status).send({
      error: status >= 500 ? 'server_error' : 'invalid_request',
      error_description: status >= 500 ? 'internal error' : 'the request could not be processed',
    })
  })

  app.get('/healthz', async () => ({ ok: true }))
  await app.register(serviceApi, {
    store,
    verifier,
    realm: env.APP_B_CLIENT_ID,
    trustedHeaderCallers: options.trustedHeaderCallers ?? env.APP_B_TRUSTED_HEADER_CALLERS,
  })
  await app.register(webUi, { env, store })

  try {
    await app.ready()
  } catch (err) {
    await app.close().catch(() => {})
    throw err
  }
  return app
}
