/**
 * App C: an activity log service with no user interface of its own. App B records what happens to
 * a user's todos here, and reads the log back for App A, each time with a token obtained by a
 * second RFC 8693 exchange — the third hop of A → B → C.
 *
 * `buildAppC` returns a ready, not listening, instance; the launcher calls `listen`.
 */
import { join } from 'node:path'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import { metricsSettingsOf, type Env } from '../../config/env.js'
import { issuerForClient, jwksUriForIssuer } from '../../idp_profiles/index.js'
import { fastifyLogOptions, type Logger } from '../../log/logger.js'
import { registerTraceContext } from '../../log/request_context.js'
import {
  createAccessTokenVerifier,
  createProtectedResourceMetadata,
  createTxnTokenVerifier,
  type AccessTokenVerifier,
  type TxnTokenVerifier,
} from '../../resource/index.js'
import { registerProtectedResourceMetadata } from '../../resource/fastify.js'
import { openActivityStore, type ActivityStore } from './activity_store.js'
import { openPostgresActivityStore } from './activity_store_postgres.js'
import { openPostgresPool } from '../../storage/postgres.js'
import { registerHealthRoutes } from '../../storage/readiness.js'
import {
  metricsFor,
  NO_METRICS,
  registerMetricsRoute,
  type ServiceMetrics,
} from '../../metrics/metrics.js'
import { ACTIVITY_READ_SCOPE, ACTIVITY_WRITE_SCOPE, appCServiceApi } from './service_api.js'

export interface BuildAppCOptions {
  readonly env: Env
  readonly logger: Logger
  /**
   * Defaults to PostgreSQL when DATABASE_URL is set, else `${DATA_DIR}/app-c.sqlite`; closed with
   * the app. A given store is left open.
   */
  readonly store?: ActivityStore
  readonly verifier?: AccessTokenVerifier
  readonly txnVerifier?: TxnTokenVerifier
}

/**
 * App C's txn-token verifier: txn tokens of the STS's Txn-Token Service for the trust domain
 * (`TXN_TRUST_DOMAIN`), requested by an allowed caller (`req_wl`, `APP_C_ALLOWED_CALLERS`).
 */
export function createAppCTxnVerifier(
  env: Env,
  metrics: ServiceMetrics = NO_METRICS,
): TxnTokenVerifier {
  return createTxnTokenVerifier({
    onKeyFetchFailure: () => metrics.jwksFetchFailed(env.STS_ISSUER),
    issuer: env.STS_ISSUER,
    trustDomain: env.TXN_TRUST_DOMAIN,
    jwksUri: `${env.STS_ISSUER}/jwks`,
    allowedWorkloads: env.APP_C_ALLOWED_CALLERS,
  })
}

export function createAppCVerifier(
  env: Env,
  metrics: ServiceMetrics = NO_METRICS,
): AccessTokenVerifier {
  const issuer = issuerForClient(env.idp, env.APP_B_CLIENT_ID)
  return createAccessTokenVerifier({
    onKeyFetchFailure: () => metrics.jwksFetchFailed(issuer),
    // App B obtains App C's tokens by exchange at the IdP, under App B's issuer.
    issuer,
    audience: env.APP_C_CLIENT_ID,
    jwksUri: jwksUriForIssuer(env.idp, issuerForClient(env.idp, env.APP_B_CLIENT_ID)),
    allowedCallers: env.APP_C_ALLOWED_CALLERS,
  })
}

export async function buildAppC(options: BuildAppCOptions): Promise<FastifyInstance> {
  const { env, logger } = options
  const metricsSettings = metricsSettingsOf(env)
  const metrics = metricsFor('app-c', metricsSettings)
  const ownsStore = options.store === undefined
  // DATABASE_URL: one log shared by every App C instance; else a SQLite file in DATA_DIR.
  const store =
    options.store ??
    (env.DATABASE_URL
      ? await openPostgresActivityStore(openPostgresPool(env.DATABASE_URL, { name: 'app-c' }), {
          ownsPool: true,
        })
      : openActivityStore(join(env.DATA_DIR, 'app-c.sqlite')))
  const app = Fastify({ ...fastifyLogOptions(logger, 'app-c'), bodyLimit: 16 * 1024 })
  registerTraceContext(app)
  if (ownsStore) app.addHook('onClose', () => store.close())
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
  registerHealthRoutes(app, { logger, checks: { database: () => store.ping() } })
  registerMetricsRoute(app, metrics, metricsSettings)
  app.get('/', async () => ({
    service: 'App C — activity log',
    api: [
      'POST /api/activity (activity:write)',
      'GET /api/activity (activity:read)',
      'POST /api/txn/activity (Txn-Token, activity:write)',
      'GET /api/txn/activity (Txn-Token, activity:read)',
    ],
    callers: env.APP_C_ALLOWED_CALLERS,
  }))
  // RFC 9728: App C's tokens come from App B's exchanges at the IdP.
  const metadata = createProtectedResourceMetadata({
    resource: env.APP_C_URL.replace(/\/+$/, ''),
    authorizationServers: [issuerForClient(env.idp, env.APP_B_CLIENT_ID)],
    scopesSupported: [ACTIVITY_READ_SCOPE, ACTIVITY_WRITE_SCOPE],
    resourceName: 'App C (activity log)',
  })
  registerProtectedResourceMetadata(app, metadata)
  await app.register(appCServiceApi, {
    store,
    verifier: options.verifier ?? createAppCVerifier(env, metrics),
    realm: env.APP_C_CLIENT_ID,
    txnVerifier: options.txnVerifier ?? createAppCTxnVerifier(env, metrics),
    resourceMetadata: metadata.url,
  })
  await app.ready()
  return app
}
