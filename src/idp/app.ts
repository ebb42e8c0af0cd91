/**
 * buildIdp: the embedded OpenID Provider as a Fastify application — oidc-provider mounted with
 * @fastify/middie, the login interaction routes, the shared stylesheet and a health check.
 * Returns a ready, not listening instance; the launcher (src/cli) calls `listen`.
 *
 * Storage: `${dataDir}/idp-keys.json` (signing keys) and `${dataDir}/idp.sqlite` (sessions, grants,
 * codes, refresh tokens, issued access token records), created on first start. The key file is
 * watched: after a rotation the IdP signs with the new key and publishes it without a restart
 * (a new oidc-provider instance takes over, live_provider.ts).
 *
 * Abuse limits (`AbuseLimits`, defaults in `DEFAULT_ABUSE_LIMITS`, set through
 * `buildIdp({ abuseLimits })`): the login form per client IP and per username (interactions.ts), the
 * token endpoint per client IP and per authenticated client_id, and body sizes. A refused token
 * request gets 429, `Retry-After` and an RFC 6749 JSON error (`temporarily_unavailable`, the
 * registered code for "try again later"); a declared body beyond the limit gets 400
 * `invalid_request` before the body is read (bodies without Content-Length still meet the JWT
 * federation middleware's 32 KiB and oidc-provider's 56 KiB caps). Body size and per-IP limits are
 * a middie middleware in front of everything (federation included) on every route that
 * authenticates clients (token, revocation, PAR), resolved the way oidc-provider resolves paths
 * (provider_routes.ts: `/TOKEN`, `/token/` are the token endpoint); the per-client limit is an
 * oidc-provider middleware, because only there is client authentication known.
 *
 * Every URL the IdP publishes (discovery, redirects) derives from the configured issuer: the front
 * door replaces the Host and forwarding headers with the issuer's before oidc-provider reads them.
 */
import middie from '@fastify/middie'
import Fastify, { type FastifyInstance } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import type Provider from 'oidc-provider'
import type { KoaContextWithOIDC } from 'oidc-provider'
import { metricsSettingsOf, trustProxyOption, type Env } from '../config/env.js'
import { loadPolicyFile, type IdpPolicy } from '../config/policy_file.js'
import { fastifyLogOptions, type Logger } from '../log/logger.js'
import { registerTraceContext } from '../log/request_context.js'
import { createJwsVerifier, type JwsVerifier } from '../jws/verify_jws.js'
import type { AuditEvent } from '../exchange/audit.js'
import { createClientCredentialsGrant } from '../exchange/client_credentials/grant.js'
import { createJwtFederationGrant } from '../exchange/jwt_federation/grant.js'
import { createGrantRunner } from '../exchange/runner.js'
import { createTokenExchangeGrant } from '../exchange/token_exchange/grant.js'
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import type { SigningKeySet, SigningKeyStore } from '../keys/signing_key_store.js'
import { openIdpKeyStore, SIGNING_ALGORITHM } from './keys.js'
import { createLiveProvider } from './live_provider.js'
import { loadUserDirectory } from './users.js'
import { openOidcStorage } from './sqlite_adapter.js'
import { openPostgresOidcStorage } from './postgres_adapter.js'
import type { OidcStorage } from './oidc_storage.js'
import { isDatabaseUnavailable, openPostgresPool } from '../storage/postgres.js'
import { createIssuedTokenRegistry, type IssuedTokenRegistry } from './issued_tokens.js'
import { createProvider } from './provider.js'
import { interactionRoutes } from './interactions.js'
import {
  createRateLimiter,
  UNLIMITED,
  type RateLimit,
  type RateLimiter,
} from '../limits/rate_limiter.js'
import { createRedisRateLimiter } from '../limits/redis_rate_limiter.js'
import { createRedisDpopReplayCache } from '../limits/redis_dpop_replay.js'
import { createDpopNonces } from '../jwt/dpop_nonce.js'
import { randomBytes } from 'node:crypto'
import { reportRefusals } from '../limits/observed.js'
import { metricsFor, registerMetricsRoute, type ServiceMetrics } from '../metrics/metrics.js'
import { openRedis, pingRedis, type RedisClient } from '../limits/redis.js'
import { registerHealthRoutes } from '../storage/readiness.js'
import { createTokenExchangeAdapter } from './token_exchange_grant.js'
import { createFederationMiddleware } from './federation.js'
import { createTokenExchangeFastPath } from './token_exchange_fast_path.js'
import {
  CLIENT_AUTHENTICATING_ROUTES,
  createProviderRouteResolver,
  type ProviderRouteResolver,
} from './provider_routes.js'
import { createIdpMinter } from './minter.js'
import { introspectionRoutes } from './introspection.js'
import { createIntrospector } from '../exchange/introspect.js'
import { createDelegations } from './delegations.js'
import { createCsrfTokens } from './csrf.js'
import { accountRoutes } from './account.js'

export interface IdpOptions {
  env: Env
  logger: Logger
  /** Defaults to env.IDP_ISSUER. */
  issuer?: string
  /** Defaults to the file at env.POLICY_FILE. */
  policy?: IdpPolicy
  /** Overrides of `DEFAULT_ABUSE_LIMITS`, validated at start-up. */
  abuseLimits?: AbuseLimitsInput
  /**
   * `false`: every token request goes through oidc-provider, none through the lean exchange path
   * (token_exchange_fast_path.ts) — its tests compare both. Default true.
   */
  tokenExchangeFastPath?: boolean
}

const rateLimitSchema = z.object({
  max: z.number().int().positive(),
  windowSeconds: z.number().int().positive().max(86_400),
})

export { createRateLimiter }

const abuseLimitsSchema = z.object({
  /** `false` switches every rate limit off (load tests, fuzzing); body limits stay. */
  enabled: z.boolean(),
  /** Login form POSTs per client IP. */
  loginPerIp: rateLimitSchema,
  /** Failed logins per username, whether the user exists or not. */
  loginFailuresPerUsername: rateLimitSchema,
  /** Largest login form body (bytes). */
  loginBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024),
  /** Token endpoint requests (token, revocation) per client IP. */
  tokenPerIp: rateLimitSchema,
  /** Token endpoint requests per client_id, counted once its authentication held. */
  tokenPerClient: rateLimitSchema,
  /** Largest declared token endpoint body (bytes); oidc-provider caps at 56 KiB anyway. */
  tokenBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(56 * 1024),
  /** Most keys each limiter remembers; the oldest window is dropped beyond it. */
  maxTrackedKeys: z.number().int().min(100),
})

export type AbuseLimits = Readonly<z.infer<typeof abuseLimitsSchema>>
export type AbuseLimitsInput = Partial<AbuseLimits>

/**
 * Defaults a person or the test suite never reaches in normal use, but that turn a brute force or
 * a flood into a trickle. Per-username failures: 10 per 15 minutes.
 */
export const DEFAULT_ABUSE_LIMITS: AbuseLimits = Object.freeze({
  enabled: true,
  loginPerIp: Object.freeze({ max: 60, windowSeconds: 60 }),
  loginFailuresPerUsername: Object.freeze({ max: 10, windowSeconds: 900 }),
  loginBodyBytes: 8 * 1024,
  tokenPerIp: Object.freeze({ max: 600, windowSeconds: 60 }),
  tokenPerClient: Object.freeze({ max: 600, windowSeconds: 60 }),
  tokenBodyBytes: 32 * 1024,
  maxTrackedKeys: 10_000,
})

export function resolveAbuseLimits(input: AbuseLimitsInput = {}): AbuseLimits {
  const result = abuseLimitsSchema.safeParse({ ...DEFAULT_ABUSE_LIMITS, ...input })
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    throw new TypeError(`buildIdp: abuseLimits are invalid: ${problems.join('; ')}`)
  }
  return Object.freeze(result.data)
}

/** The limits set through the environment (IDP_RATE_LIMITS, IDP_*_PER_MINUTE). */
export function abuseLimitsFromEnv(env: Env): AbuseLimitsInput {
  return {
    enabled: env.IDP_RATE_LIMITS === 'on',
    loginPerIp: { max: env.IDP_LOGIN_POSTS_PER_MINUTE, windowSeconds: 60 },
    tokenPerIp: { max: env.IDP_TOKEN_REQUESTS_PER_MINUTE, windowSeconds: 60 },
    tokenPerClient: { max: env.IDP_TOKEN_REQUESTS_PER_MINUTE, windowSeconds: 60 },
  }
}

/** Where the limits count: in Redis (REDIS_URL, shared by every instance) or in this process. */
interface LimiterSource {
  readonly redis?: RedisClient
  readonly logger: Logger
  /** Counts each refusal under the limit's name. */
  readonly metrics: ServiceMetrics
}

function limiterFor(
  limits: AbuseLimits,
  limit: RateLimit,
  name: string,
  source: LimiterSource,
): RateLimiter {
  if (!limits.enabled) return UNLIMITED
  const limiter = source.redis
    ? createRedisRateLimiter(limit, {
        redis: source.redis,
        name: `idp:${name}`,
        logger: source.logger,
      })
    : createRateLimiter(limit, { maxKeys: limits.maxTrackedKeys })
  return source.metrics.registry === undefined
    ? limiter
    : reportRefusals(limiter, () => source.metrics.limiterRefused(name))
}

/** The client_id of HTTP Basic client authentication (RFC 6749 §2.3.1: form-encoded), if any. */
function basicClientId(authorization: string): string | undefined {
  const match = /^basic +([A-Za-z0-9+/]+=*)$/i.exec(authorization)
  if (!match) return undefined
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) return undefined
  try {
    return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')).slice(0, 128)
  } catch {
    return undefined
  }
}

const TOO_MANY = Object.freeze({
  error: 'temporarily_unavailable',
  error_description: 'too many requests, retry later',
})

function sendTokenError(
  res: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    ...headers,
  })
  res.end(JSON.stringify(body))
}

/** Set on a request the front door checked against the token endpoint limits. */
const LIMITED = Symbol('onbehalf.tokenEndpointLimited')
type LimitedRequest = IncomingMessage & { [LIMITED]?: true }

/**
 * Connect-style middleware in front of everything else (so the federation middleware and
 * oidc-provider are both behind it):
 * - the Host header is pinned to the issuer's and forwarding headers are replaced by the issuer's
 *   scheme and host, so every URL oidc-provider derives (discovery, `form action`s, redirects) comes
 *   from the configured issuer, never from what a client sent (issue 12 item 5);
 * - a request to a client-authenticating route (token, revocation, PAR, introspection), however
 *   spelled (`/TOKEN`, `/token/`), is rewritten to the route's own path, so everything behind
 *   compares exact paths; a declared body beyond the limit is refused before it is read, then every
 *   POST counts against the client IP.
 */
function frontDoor(options: {
  limits: AbuseLimits
  source: LimiterSource
  issuer: URL
  routes: ProviderRouteResolver
}) {
  const { limits, routes } = options
  const { logger } = options.source
  const perIp = limiterFor(limits, limits.tokenPerIp, 'token:ip', options.source)
  async function check(ip: string): Promise<number> {
    const wait = await perIp.retryAfter(ip)
    if (wait === 0) await perIp.hit(ip)
    return wait
  }
  const host = options.issuer.host
  const proto = options.issuer.protocol.slice(0, -1)
  const { metrics } = options.source
  return function idpFrontDoor(req: LimitedRequest, res: ServerResponse, next: () => void) {
    // The client IP as Fastify resolved it (middie copies request.ip): the socket's address, or
    // with TRUST_PROXY the address the trusted proxies forwarded.
    const ip = (req as { ip?: string }).ip ?? req.socket.remoteAddress ?? 'unknown'
    req.headers.host = host
    for (const name of ['forwarded', 'x-forwarded-host', 'x-forwarded-port'])
      delete req.headers[name]
    // oidc-provider (koa, app.proxy) reads the client IP from here: only the resolved one.
    req.headers['x-forwarded-for'] = ip
    req.headers['x-forwarded-proto'] = proto
    const url = req.url ?? '/'
    const queryAt = url.indexOf('?')
    const path = queryAt === -1 ? url : url.slice(0, queryAt)
    const resolved = routes.resolve(path)
    if (resolved === undefined) return next()
    if (resolved.path !== path) req.url = resolved.path + (queryAt === -1 ? '' : url.slice(queryAt))
    if (req.method !== 'POST') return next()
    if (resolved.route === 'token' && metrics.registry !== undefined) {
      const started = process.hrtime.bigint()
      res.once('finish', () =>
        metrics.tokenLatency(Number(process.hrtime.bigint() - started) / 1e9, res.statusCode),
      )
    }
    const declared = req.headers['content-length']
    if (declared !== undefined && !(Number(declared) <= limits.tokenBodyBytes)) {
      return sendTokenError(
        res,
        400,
        { error: 'invalid_request', error_description: 'request body is too large' },
        { connection: 'close' },
      )
    }
    check(ip).then(
      (wait) => {
        if (wait === 0) {
          req[LIMITED] = true
          return next()
        }
        logger.warn(
          { event: 'token_throttled', limit: 'ip', route: resolved.route },
          'token request throttled',
        )
        sendTokenError(res, 429, TOO_MANY, { 'retry-after': String(wait) })
      },
      (error: unknown) => {
        // The limiter's store failed beyond its fallback: refuse with "try later", never a 500.
        logger.error({ err: error, event: 'limiter_failed', limit: 'ip' }, 'rate limiter failed')
        sendTokenError(res, 503, TOO_MANY, { 'retry-after': '1' })
      },
    )
  }
}

/**
 * Koa pre-middleware for oidc-provider's client-authenticating routes: the per-client limit. Only
 * requests whose client authentication held are counted, so nobody can lock a client out by
 * sending its client_id with a wrong secret; while the limit is reached, requests naming that
 * client in HTTP Basic are refused before anything else. Afterwards it checks that every request
 * oidc-provider served on such a route went through the front door's limits.
 */
function limitTokenEndpointPerClient(perClient: RateLimiter, logger: Logger) {
  const limitedRoutes: ReadonlySet<string> = new Set(CLIENT_AUTHENTICATING_ROUTES)
  return async function tokenEndpointClientLimit(
    ctx: KoaContextWithOIDC,
    next: () => Promise<void>,
  ) {
    if (ctx.method !== 'POST') return next()
    // Only the front door's verdict counts here: it resolved the route as oidc-provider will.
    if ((ctx.req as LimitedRequest)[LIMITED] !== true) {
      await next()
      const route = (ctx as { oidc?: { route?: string } }).oidc?.route
      if (route !== undefined && limitedRoutes.has(route)) {
        logger.error(
          { event: 'abuse_limit_bypass', route, path: ctx.path },
          'a client-authenticating route was served without its abuse limits',
        )
      }
      return
    }
    const claimedClient = basicClientId(ctx.get('authorization'))
    const wait = claimedClient === undefined ? 0 : await perClient.retryAfter(claimedClient)
    if (wait > 0) {
      logger.warn(
        { event: 'token_throttled', limit: 'client', clientId: claimedClient },
        'token request throttled',
      )
      ctx.status = 429
      ctx.set('retry-after', String(wait))
      ctx.set('cache-control', 'no-store')
      ctx.body = { ...TOO_MANY }
      return
    }
    await next()
    const body = ctx.body as { error?: unknown } | undefined
    const clientId = ctx.oidc?.client?.clientId
    if (clientId !== undefined && ctx.status !== 401 && body?.error !== 'invalid_client') {
      await perClient.hit(clientId)
    }
  }
}

/**
 * Koa middleware for oidc-provider: a token response leaves only once the records of the access
 * tokens it carries are stored (oidc-provider reports them through a synchronous event), so the
 * next hop may take the token to any instance.
 */
function awaitIssuedTokenRecords(issuedTokens: IssuedTokenRegistry) {
  return async function issuedTokenRecordsStored(
    _ctx: KoaContextWithOIDC,
    next: () => Promise<void>,
  ) {
    await next()
    await issuedTokens.settled()
  }
}

/**
 * PostgreSQL unreachable (restarting, failing over): the request is answered 503
 * `temporarily_unavailable` with `Retry-After`, never a 500 — nothing is wrong with the request
 * and the pool reconnects once the server is back. Covers errors the provider's own error handler
 * turned into `server_error` (flagged by the `server_error` listener below) and errors thrown
 * around it (the issued-token records awaited after the route: the token never leaves).
 */
const DATABASE_UNAVAILABLE = Symbol('databaseUnavailable')

function answerDatabaseOutage(logger: Logger) {
  return async function databaseOutage(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    const state = ctx.state as { [DATABASE_UNAVAILABLE]?: unknown }
    let error: unknown
    try {
      await next()
    } catch (thrown) {
      if (!isDatabaseUnavailable(thrown)) throw thrown
      error = thrown
    }
    if (error === undefined && state[DATABASE_UNAVAILABLE] === undefined) return
    logger.warn({ err: error ?? state[DATABASE_UNAVAILABLE] }, 'database unavailable')
    ctx.status = 503
    ctx.set('retry-after', '1')
    ctx.set('cache-control', 'no-store')
    ctx.body = {
      error: 'temporarily_unavailable',
      error_description: 'the database is unavailable, retry later',
    }
  }
}

function flagDatabaseOutage(provider: Provider): void {
  provider.on('server_error', (ctx: KoaContextWithOIDC, error: Error) => {
    if (isDatabaseUnavailable(error)) {
      ;(ctx.state as { [DATABASE_UNAVAILABLE]?: unknown })[DATABASE_UNAVAILABLE] = error
    }
  })
}

export interface Idp {
  app: FastifyInstance
  /** The oidc-provider instance serving now (a new one after every key rotation). */
  readonly provider: Provider
  /** The signing keys in use now. */
  readonly keys: SigningKeySet
  /** The key store: rotate, watch. */
  keyStore: SigningKeyStore
  issuer: string
  policy: IdpPolicy
  abuseLimits: AbuseLimits
}

/** The log message of each grant's audit event ("token exchange issued"). */
const AUDIT_LABEL: Readonly<Record<AuditEvent['event'], string>> = {
  token_exchange: 'token exchange',
  jwt_federation: 'jwt federation',
  client_credentials: 'client credentials',
  txn_token: 'txn token',
}

/** Paths Fastify answers itself; everything else goes to oidc-provider. */
const OWN_PATHS =
  /^\/(interaction\/|assets\/|account\/|(?:healthz|readyz|metrics)(?:$|\?)|token\/introspection(?:$|\?))/

/** A verifier for JWTs this IdP signed: pinned algorithm, keys only from our own key store. */
function createOwnTokenVerifier(issuer: string, keys: SigningKeyStore): JwsVerifier {
  return createJwsVerifier({
    algorithms: [SIGNING_ALGORITHM],
    resolveKey: ({ iss, kid }) => (iss === issuer && kid ? keys.findPublicKey(kid) : undefined),
  })
}

/**
 * RFC 7009 revocation of JWT access tokens. oidc-provider does not store JWT access tokens and
 * answers `unsupported_token_type` for them (RFC 7009 §2.2.1 allows that). onbehalf keeps its own
 * record of every access token it issued, so it can do better: when the token is one this IdP
 * signed for the authenticated client, its record is deleted — it can no longer be exchanged —
 * and the answer becomes the standard 200.
 */
function revokeJwtAccessTokens(
  verifier: JwsVerifier,
  issuedTokens: IssuedTokenRegistry,
  logger: Logger,
) {
  return async function revokeJwtAccessToken(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    await next()
    const body = ctx.body as { error?: string } | undefined
    if (
      ctx.oidc?.route !== 'revocation' ||
      ctx.status !== 400 ||
      body?.error !== 'unsupported_token_type'
    )
      return
    const token = ctx.oidc.params?.token
    const clientId = ctx.oidc.client?.clientId
    if (typeof token !== 'string' || !clientId) return
    try {
      const { payload } = await verifier.verify(token)
      if (payload.client_id !== clientId || typeof payload.jti !== 'string') return
      await issuedTokens.revoke(payload.jti)
      logger.info({ event: 'token_revoked', clientId, jti: payload.jti }, 'access token revoked')
      ctx.status = 200
      ctx.body = ''
    } catch {
      // Not a token this IdP signed: oidc-provider's answer stands.
    }
  }
}

export async function buildIdp(options: IdpOptions): Promise<Idp> {
  const { env, logger } = options
  const issuer = (options.issuer ?? env.IDP_ISSUER).replace(/\/+$/, '')
  const policy = options.policy ?? loadPolicyFile(env.POLICY_FILE, env, issuer)
  const abuseLimits = resolveAbuseLimits(options.abuseLimits ?? abuseLimitsFromEnv(env))
  // DATABASE_URL: state and keys in PostgreSQL, shared by every instance; else DATA_DIR.
  const pool = env.DATABASE_URL ? openPostgresPool(env.DATABASE_URL, { name: 'idp' }) : undefined
  let storage: OidcStorage
  let keyStore: SigningKeyStore
  try {
    storage = pool
      ? await openPostgresOidcStorage(pool)
      : openOidcStorage(join(env.DATA_DIR, 'idp.sqlite'))
    // Watched: a rotation (`onbehalf keys rotate`, another instance) is used without a restart.
    keyStore = await openIdpKeyStore({ dataDir: env.DATA_DIR, create: 'if-missing', logger, pool })
  } catch (error) {
    await pool?.end()
    throw error
  }
  const users = loadUserDirectory(env.USERS_FILE)
  // REDIS_URL: the abuse limits count across every instance (redis_rate_limiter.ts).
  const redis = env.REDIS_URL ? openRedis(env.REDIS_URL, 'idp', env.REDIS_KEY_PREFIX) : undefined
  const metricsSettings = metricsSettingsOf(env)
  const metrics = metricsFor('idp', metricsSettings)
  const limiterSource: LimiterSource = { redis, logger, metrics }
  const issuedTokens = createIssuedTokenRegistry(storage)
  const delegations = createDelegations({ policy, storage })
  const csrf = createCsrfTokens(env.IDP_COOKIE_SECRET)
  const verifier = createOwnTokenVerifier(issuer, keyStore)
  // Follows rotations: always the active key of the store.
  const signer = keyStore.signer()

  // One audited runner for every grant the IdP decides, one minter for every token it signs itself
  // (exchange, federation); oidc-provider signs client_credentials tokens from the decision.
  const runner = createGrantRunner({
    minter: createIdpMinter(() => signer, issuedTokens),
    audit: (event: AuditEvent) => {
      logger.info({ audit: event }, `${AUDIT_LABEL[event.event]} ${event.outcome}`)
      metrics.tokenRequest(event.event, event.outcome, event.error)
    },
  })
  metrics.signingKeyCreatedAt(() => keyStore.current().active.createdAt)
  const subjectStatus = {
    isActive: (token: { jti: string }) => issuedTokens.isActive(token.jti),
  }
  const tokenExchangeGrant = createTokenExchangeGrant({
    policy: policy.exchange,
    verifier,
    subjectStatus,
    dpop: {
      // REDIS_URL: a proof used at one instance is refused at every other (fail closed).
      ...(redis ? { replay: createRedisDpopReplayCache({ redis, name: 'idp', logger }) } : {}),
      nonces: createDpopNonces({
        secret: env.DPOP_NONCE_SECRET ?? randomBytes(32).toString('base64url'),
        windowSeconds: env.DPOP_NONCE_WINDOW_SECONDS,
      }),
    },
  })
  const tokenExchange = createTokenExchangeAdapter(runner, tokenExchangeGrant)
  const federation = createJwtFederationGrant({
    policy: policy.federation,
    exchangePolicy: policy.exchange,
    verifier,
    subjectStatus,
    lifetimeSeconds: policy.accessTokenLifetimeSeconds,
  })

  // Built once: their state (limiter counts) outlives every provider instance. The per-client
  // limit counts in one limiter for oidc-provider's middleware and the lean exchange path alike.
  const perClient = limiterFor(
    abuseLimits,
    abuseLimits.tokenPerClient,
    'token:client',
    limiterSource,
  )
  const clientCredentials = createClientCredentialsGrant(policy.clientCredentials)
  const providerMiddleware = [
    answerDatabaseOutage(logger),
    awaitIssuedTokenRecords(issuedTokens),
    limitTokenEndpointPerClient(perClient, logger),
    revokeJwtAccessTokens(verifier, issuedTokens, logger),
  ]
  /** One oidc-provider instance for one key set; a rotation builds the next (live_provider.ts). */
  function buildProvider(keys: SigningKeySet): Provider {
    const provider = createProvider({
      issuer,
      policy,
      keys,
      users,
      storage,
      issuedTokens,
      cookieSecret: env.IDP_COOKIE_SECRET,
      logger,
      runner,
      clientCredentials,
      delegations,
    })
    provider.registerGrantType(
      tokenExchange.grantType,
      tokenExchange.handler,
      tokenExchange.parameters,
      tokenExchange.allowedDuplicateParameters,
    )
    for (const middleware of providerMiddleware) provider.use(middleware)
    flagDatabaseOutage(provider)
    // URLs come from X-Forwarded-Proto and Host, which the front door sets from the issuer alone
    // (any client-sent forwarding header is dropped first): never from the client's Host.
    provider.proxy = true
    return provider
  }
  const providers = createLiveProvider(keyStore, buildProvider, logger)

  const app = Fastify({
    ...fastifyLogOptions(logger, 'idp'),
    bodyLimit: 64 * 1024,
    // TRUST_PROXY: which peers' X-Forwarded-For names the client IP (per-IP limits, logs).
    trustProxy: trustProxyOption(env.TRUST_PROXY),
  })
  // First: every request (oidc-provider's too, behind middie) runs in its trace context.
  registerTraceContext(app)
  await app.register(middie)
  // First: the issuer's host, then body size and per-IP limits on every client-authenticating
  // route, resolved as oidc-provider resolves it (the paths do not change with a key rotation).
  const current = providers.current()
  app.use(
    frontDoor({
      limits: abuseLimits,
      source: limiterSource,
      issuer: new URL(issuer),
      routes: createProviderRouteResolver((name) => current.pathFor(name)),
    }),
  )
  // The common RFC 8693 request (HTTP Basic, the plain form) answered by the engine directly;
  // everything else goes on to oidc-provider (token_exchange_fast_path.ts says what is taken).
  if (options.tokenExchangeFastPath !== false) {
    app.use(
      createTokenExchangeFastPath({
        runner,
        grant: tokenExchangeGrant,
        clientSecrets: new Map(
          [...policy.clients.values()].map((client) => [client.clientId, client.clientSecret]),
        ),
        perClient,
        issuer,
        tokenPath: current.pathFor('token'),
        bodyLimit: abuseLimits.tokenBodyBytes,
        logger,
      }),
    )
  }
  // authentik-style JWT federation (POST /token without Authorization only), before oidc-provider.
  app.use(createFederationMiddleware({ runner, grant: federation, logger }))
  app.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if (OWN_PATHS.test(req.url ?? '')) return next()
    providers.handle(req, res)
  })
  const stylesheet = readFileSync(new URL('../web/assets/style.css', import.meta.url), 'utf8')
  app.get('/assets/style.css', async (_request, reply) =>
    reply
      .type('text/css; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .send(stylesheet),
  )
  registerMetricsRoute(app, metrics, metricsSettings)
  registerHealthRoutes(app, {
    logger,
    info: () => ({ issuer }),
    checks: {
      database: () => storage.ping(),
      // The backend answers and holds an active key (a file or PostgreSQL row readable).
      signingKeys: () => keyStore.sync(),
      ...(redis ? { redis: () => pingRedis(redis) } : {}),
    },
  })
  // RFC 7662 for resource servers: the engine's introspector over the registry of issued tokens.
  await app.register(introspectionRoutes, {
    introspect: createIntrospector({
      policy: { ...policy.exchange, trustedIssuers: [issuer] },
      verifier,
      status: subjectStatus,
    }),
    clientSecrets: new Map(
      [...policy.clients.values()].map((client) => [client.clientId, client.clientSecret]),
    ),
    logger,
  })
  await app.register(interactionRoutes, {
    // Interactions only read and save interaction state in the shared adapter, under the shared
    // cookie keys, and sign nothing: any instance serves them, including this first one.
    provider: providers.current(),
    users,
    logger,
    delegations,
    csrf,
    limits: {
      perIp: limiterFor(abuseLimits, abuseLimits.loginPerIp, 'login:ip', limiterSource),
      failuresPerUsername: limiterFor(
        abuseLimits,
        abuseLimits.loginFailuresPerUsername,
        'login:username',
        limiterSource,
      ),
      bodyBytes: abuseLimits.loginBodyBytes,
    },
  })
  await app.register(accountRoutes, {
    provider: providers.current(),
    policy,
    users,
    delegations,
    csrf,
    logger,
  })
  const sweep = setInterval(() => {
    storage.sweepExpired().catch((error: unknown) => {
      logger.warn({ event: 'idp_sweep_failed', reason: (error as Error).message }, 'sweep failed')
    })
  }, 60_000)
  sweep.unref()
  app.addHook('onClose', async () => {
    clearInterval(sweep)
    providers.close()
    await keyStore.close()
    await storage.close()
    await pool?.end()
    redis?.disconnect()
  })
  await app.ready()
  return {
    app,
    get provider() {
      return providers.current()
    },
    get keys() {
      return keyStore.current()
    },
    keyStore,
    issuer,
    policy,
    abuseLimits,
  }
}
