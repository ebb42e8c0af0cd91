/**
 * App B: a todo list. Users manage their own list in the browser (OIDC sign-in through the web
 * kit); other services read it through the service API with a bearer token addressed to App B,
 * typically obtained by RFC 8693 token exchange (App A acting for the user).
 *
 * Two sibling contexts, so neither sees the other's hooks: the service API (bearer only, no cookie
 * parsing, no session) and the web UI (sessions, CSRF, helmet, OIDC). `buildAppB` returns a ready,
 * not listening, instance; the launcher calls `listen`.
 *
 * Both contexts reach App C through an `AppCLink`, two ways: a second RFC 8693 exchange (a token
 * addressed to App C), or a transaction token from the STS's Txn-Token Service in the `Txn-Token`
 * header (draft-ietf-oauth-transaction-tokens-10). The web UI records each todo change the way
 * `APP_B_TO_APP_C` says; the service API reads the log back for App A either way
 * (`GET /api/activity?via=txn-token`).
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { openRedis } from '../../limits/redis.js'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import {
  createTokenExchangeClient,
  createTxnTokenClient,
  ExchangedTokenCache,
} from '../../client/index.js'
import { metricsSettingsOf, type Env } from '../../config/env.js'
import {
  discoveryUrlOf,
  idpProfile,
  issuerForClient,
  jwksUriForIssuer,
} from '../../idp_profiles/index.js'
import { fastifyLogOptions, type Logger } from '../../log/logger.js'
import { registerTraceContext } from '../../log/request_context.js'
import {
  createAccessTokenVerifier,
  createDpopNonces,
  createProtectedResourceMetadata,
  createRedisDpopReplayCache,
  createTrustedIssuersVerifier,
  DPOP_ALGORITHMS,
  withIntrospection,
  type AccessTokenVerifier,
  type ProtectedResourceMetadata,
} from '../../resource/index.js'
import { registerProtectedResourceMetadata } from '../../resource/fastify.js'
import { ACTIVITY_READ_SCOPE } from './app_c_link.js'
import { createAppCLink, type AppCLink } from './app_c_link.js'
import { createAppCTxnLink } from './app_c_txn_link.js'
import { SERVICE_API_SCOPE, serviceApi, TODOS_WRITE_SCOPE } from './service_api.js'
import { openTodoStore, type TodoStore } from './todo_store.js'
import { openPostgresTodoStore } from './todo_store_postgres.js'
import { isDatabaseUnavailable, openPostgresPool } from '../../storage/postgres.js'
import { registerHealthRoutes } from '../../storage/readiness.js'
import {
  metricsFor,
  NO_METRICS,
  registerMetricsRoute,
  type ServiceMetrics,
} from '../../metrics/metrics.js'
import { webUi } from './web_ui.js'

export interface BuildAppBOptions {
  readonly env: Env
  readonly logger: Logger
  /**
   * Defaults to PostgreSQL when DATABASE_URL is set, else `${DATA_DIR}/app-b.sqlite`; closed with
   * the app. A given store is left open.
   */
  readonly store?: TodoStore
  /** Defaults to a verifier for `IDP_ISSUER`'s JWKS, audience `APP_B_CLIENT_ID`. */
  readonly verifier?: AccessTokenVerifier
  /** Who may call the service API. Default: `APP_B_ALLOWED_CALLERS`. */
  readonly allowedCallers?: readonly string[]
  /** Callers whose own token may name the user in `X-User-Sub`. Default: `APP_B_TRUSTED_HEADER_CALLERS`. */
  readonly trustedHeaderCallers?: readonly string[]
  /** App B's way to App C. Default: exchange at the IdP with App B's credentials, `APP_C_URL`. */
  readonly appC?: AppCLink
  /** App B's txn-token way to App C. Default: the STS's Txn-Token Service, `TXN_TRUST_DOMAIN`. */
  readonly appCTxn?: AppCLink
  /** Outbound HTTP to the IdP and App C (tests). */
  readonly fetch?: typeof fetch
}

/**
 * App B's RFC 9728 metadata: its resource identifier is its URL (the `resource` of its target in
 * the policy, RFC 8707), its tokens come from the IdP (App A's and App B's issuer) or the STS.
 */
export function appBResourceMetadata(env: Env): ProtectedResourceMetadata {
  return createProtectedResourceMetadata({
    resource: env.APP_B_URL.replace(/\/+$/, ''),
    authorizationServers: [
      ...new Set([
        issuerForClient(env.idp, env.APP_A_CLIENT_ID),
        issuerForClient(env.idp, env.APP_B_CLIENT_ID),
        env.STS_ISSUER,
      ]),
    ],
    scopesSupported: [SERVICE_API_SCOPE, TODOS_WRITE_SCOPE, ACTIVITY_READ_SCOPE],
    resourceName: 'App B (todos)',
    dpopAlgorithms: DPOP_ALGORITHMS,
  })
}

/**
 * The verifier App B uses for its service API. It trusts, each with its own keys, the issuers of
 * the IdP that App A's and App B's tokens come from (one issuer, or one per application on
 * authentik) and the onbehalf STS (which exchanges IdP tokens when the IdP cannot).
 */
export function createAppBVerifier(
  env: Env,
  allowedCallers?: readonly string[],
  metrics: ServiceMetrics = NO_METRICS,
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
        ...(env.APP_B_VERIFIED_TOKEN_CACHE === 'off' ? { verifiedTokenCache: false as const } : {}),
        onKeyFetchFailure: () => metrics.jwksFetchFailed(issuer),
      }),
    ),
  )
}

/**
 * `APP_B_INTROSPECTION`: App B asks the embedded IdP (RFC 7662, `/token/introspection`, App B's
 * own client credentials) whether a token it verified is still active — every IdP token (`all`) or
 * those carrying `act` (`delegated`: an agent or service acting for the user), so a revoked
 * delegation, grant or parent token is refused at once, not at `exp`. Tokens of other issuers (the
 * STS) are left to their signature; `off`, or an IdP other than the embedded one, changes nothing.
 */
export function withAppBIntrospection(
  env: Env,
  verifier: AccessTokenVerifier,
  fetchImpl?: typeof fetch,
): AccessTokenVerifier {
  const mode = env.APP_B_INTROSPECTION
  if (mode === 'off' || env.idp.kind !== 'embedded') return verifier
  const issuer = issuerForClient(env.idp, env.APP_B_CLIENT_ID)
  const introspecting = withIntrospection(verifier, {
    endpoint: `${issuer}/token/introspection`,
    clientId: env.APP_B_CLIENT_ID,
    clientSecret: env.APP_B_CLIENT_SECRET,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  })
  async function verify(token: string) {
    const verified = await verifier(token)
    if (verified.claims.iss !== issuer) return verified
    if (mode === 'delegated' && verified.actorChain.length === 0) return verified
    return introspecting(token)
  }
  return Object.assign(verify, { issuer: verifier.issuer, audience: verifier.audience })
}

/**
 * The token endpoint of App B's issuer, from its discovery document (OpenID Connect Discovery 1.0
 * §4), looked up on first use and remembered; a failed lookup is retried on the next call.
 */
function createTokenEndpointLookup(issuer: string, fetchImpl: typeof fetch): () => Promise<string> {
  let endpoint: Promise<string> | undefined
  return () => {
    endpoint ??= (async () => {
      const response = await fetchImpl(discoveryUrlOf(issuer), {
        headers: { accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(5000),
      })
      const metadata = (await response.json()) as { token_endpoint?: unknown }
      if (!response.ok || typeof metadata.token_endpoint !== 'string') {
        throw new Error(`no token_endpoint in the discovery document of ${issuer}`)
      }
      return metadata.token_endpoint
    })().catch((error: unknown) => {
      endpoint = undefined
      throw error
    })
    return endpoint
  }
}

/** App B's link to App C: App B's own exchange client (and cache), App C's audience and URL. */
export function createAppBToAppCLink(
  env: Env,
  fetchImpl: typeof fetch = globalThis.fetch,
): AppCLink {
  const cache = new ExchangedTokenCache({ maxEntries: 1000 })
  const exchanger = createTokenExchangeClient({
    tokenEndpoint: createTokenEndpointLookup(
      issuerForClient(env.idp, env.APP_B_CLIENT_ID),
      fetchImpl,
    ),
    clientId: env.APP_B_CLIENT_ID,
    clientSecret: env.APP_B_CLIENT_SECRET,
    cache,
    fetch: fetchImpl,
  })
  const profile = idpProfile(env.idp.kind)
  return createAppCLink({
    exchanger,
    cache,
    audience: env.APP_C_CLIENT_ID,
    baseUrl: env.APP_C_URL,
    scopeFor: (scope) => profile.exchangeScope(env.APP_C_CLIENT_ID, scope),
    fetch: fetchImpl,
    // A todo change waits for this call: keep it short.
    timeoutMs: 3000,
  })
}

/** App B's txn-token link to App C: App B's credentials at the STS, the trust domain. */
export function createAppBToAppCTxnLink(
  env: Env,
  fetchImpl: typeof fetch = globalThis.fetch,
): AppCLink {
  return createAppCTxnLink({
    txnTokens: createTxnTokenClient({
      tokenEndpoint: `${env.STS_ISSUER}/token`,
      clientId: env.APP_B_CLIENT_ID,
      clientSecret: env.APP_B_CLIENT_SECRET,
      trustDomain: env.TXN_TRUST_DOMAIN,
      fetch: fetchImpl,
    }),
    baseUrl: env.APP_C_URL,
    fetch: fetchImpl,
    timeoutMs: 3000,
  })
}

/**
 * @example
 * const app = await buildAppB({ env: loadEnv(), logger: createLogger() })
 * await app.listen({ host: env.HOST, port: env.APP_B_PORT })
 */
export async function buildAppB(options: BuildAppBOptions): Promise<FastifyInstance> {
  const { env, logger } = options
  const metricsSettings = metricsSettingsOf(env)
  const metrics = metricsFor('app-b', metricsSettings)
  const verifier =
    options.verifier ??
    withAppBIntrospection(
      env,
      createAppBVerifier(env, options.allowedCallers, metrics),
      options.fetch,
    )
  const ownsStore = options.store === undefined
  // DATABASE_URL: one list shared by every App B instance; else a SQLite file in DATA_DIR.
  const store =
    options.store ??
    (env.DATABASE_URL
      ? await openPostgresTodoStore(openPostgresPool(env.DATABASE_URL, { name: 'app-b' }), {
          ownsPool: true,
        })
      : openTodoStore(join(env.DATA_DIR, 'app-b.sqlite')))
  const appC = options.appC ?? createAppBToAppCLink(env, options.fetch)
  const appCTxn = options.appCTxn ?? createAppBToAppCTxnLink(env, options.fetch)

  const app = Fastify({
    // Request lines go through the redacting serializer: no token-bearing query value is logged.
    ...fastifyLogOptions(logger, 'app-b'),
    bodyLimit: 64 * 1024,
  })
  registerTraceContext(app)
  if (ownsStore) app.addHook('onClose', () => store.close())
  // REDIS_URL: every App B instance sees every DPoP proof (a replay at another one is refused).
  const redis = env.REDIS_URL ? openRedis(env.REDIS_URL, 'app-b', env.REDIS_KEY_PREFIX) : undefined
  if (redis) app.addHook('onClose', async () => redis.disconnect())

  // Outside the web context: JSON errors, 5xx without their message.
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    // PostgreSQL restarting: 503, retry later (the pool reconnects), never a 500 storm.
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable')
      return reply.code(503).header('retry-after', '1').send({
        error: 'temporarily_unavailable',
        error_description: 'the database is unavailable, retry later',
      })
    }
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

  registerHealthRoutes(app, { logger, checks: { database: () => store.ping() } })
  registerMetricsRoute(app, metrics, metricsSettings)
  // RFC 9728: who issues tokens for App B's service API, and how to present them.
  const metadata = appBResourceMetadata(env)
  registerProtectedResourceMetadata(app, metadata)
  await app.register(serviceApi, {
    resourceMetadata: metadata.url,
    store,
    verifier,
    realm: env.APP_B_CLIENT_ID,
    dpopOrigin: new URL(env.APP_B_URL).origin,
    ...(redis ? { dpopReplay: createRedisDpopReplayCache({ redis, name: 'app-b', logger }) } : {}),
    ...(env.APP_B_DPOP_NONCE === 'on'
      ? {
          dpopNonces: createDpopNonces({
            secret: env.DPOP_NONCE_SECRET ?? randomBytes(32).toString('base64url'),
            windowSeconds: env.DPOP_NONCE_WINDOW_SECONDS,
          }),
        }
      : {}),
    trustedHeaderCallers: options.trustedHeaderCallers ?? env.APP_B_TRUSTED_HEADER_CALLERS,
    appC,
    appCTxn,
    actorNames: env.APP_B_ACTOR_NAMES,
  })
  await app.register(webUi, {
    env,
    store,
    appC: env.APP_B_TO_APP_C === 'txn-token' ? appCTxn : appC,
  })

  try {
    await app.ready()
  } catch (err) {
    await app.close().catch(() => {})
    throw err
  }
  return app
}
