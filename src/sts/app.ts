/**
 * buildSts: onbehalf's security token service, an RFC 8693 token endpoint for identity providers
 * that lack one. It trusts the access tokens of configured upstream issuers (keys from their own
 * JWKS, cached by src/keys/remote_jwks.ts) and mints tokens under its own issuer and keys, through
 * the same engine as the embedded IdP (src/exchange): no rule of the exchange lives here.
 *
 * Routes: `POST /token` (form body only, RFC 6749 client authentication, RFC 8693 exchange; with
 * a `txnTokens` section also the Txn-Token Service mode: a request whose `requested_token_type`
 * is `urn:ietf:params:oauth:token-type:txn_token` runs the txn-token grant under the same runner,
 * draft-ietf-oauth-transaction-tokens-10),
 * `POST /token/introspection` (RFC 7662 for resource servers, introspection.ts), `GET /jwks`,
 * `GET /.well-known/oauth-authorization-server` (RFC 8414), `GET /healthz`.
 * Returns a ready, not listening instance; `src/cli/sts.ts` calls `listen`.
 * The common `POST /token` (a form body of known length) is answered by token_fast_path.ts in
 * front of Fastify, through the same functions as the Fastify route below; every other request,
 * and any unusual token request, is Fastify's.
 *
 * The token endpoint answers every fault with RFC 6749 §5.2 JSON and `Cache-Control: no-store`:
 * 401 `invalid_client`, otherwise 400 (bad media type, oversized or malformed body included); a
 * 5xx only for a fault of the STS itself.
 *
 * Stateless: signing keys are read from the shared key directory, upstream keys are a cache, the
 * engine keeps nothing between requests. Subject tokens are not checked for revocation at the
 * upstream: their own short lifetime bounds them, and the exchanged token never outlives them
 * (S17); for the same reason introspection here cannot report an upstream revocation.
 *
 * @example
 * ```ts
 * const app = await buildSts(readStsConfigFile('deploy/sts/embedded.json', process.env), { logger })
 * await app.listen({ host: '127.0.0.1', port: 9100 })
 * ```
 */
import formbody from '@fastify/formbody'
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify'
import {
  createRateLimiter,
  UNLIMITED,
  type RateLimit,
  type RateLimiter,
} from '../limits/rate_limiter.js'
import type { SigningKeyBackend } from '../keys/signing_key_store.js'
import { registerHealthRoutes } from '../storage/readiness.js'
import {
  createClientAuthenticator,
  createGrantRunner,
  createJwsMinter,
  createJwsVerifier,
  createTxnTokenGrant,
  GRANT_TYPE_TOKEN_EXCHANGE,
  InvalidRequest,
  isTxnTokenRequest,
  NO_STORE_HEADERS,
  OAuthError,
  toErrorResponse,
  type GrantParams,
  type TokenExchangeAuditEvent,
  type TxnTokenAuditEvent,
} from '../exchange/index.js'
import { createTokenExchangeGrant } from '../exchange/token_exchange/grant.js'
import { SIGNING_ALGORITHM } from '../keys/signing_key_store.js'
import { createRemoteKeySet, type RemoteKeySet } from '../keys/remote_jwks.js'
import { fastifyLogOptions, type Logger } from '../log/logger.js'
import { registerTraceContext } from '../log/request_context.js'
import { systemClock, type Clock } from '../time/clock.js'
import { DPOP_ALGORITHMS, type DpopReplayCache } from '../jwt/dpop_proof.js'
import { createDpopNonces, type DpopNonces } from '../jwt/dpop_nonce.js'
import { randomBytes } from 'node:crypto'
import type { StsConfig } from './config.js'
import { createIntrospector } from '../exchange/introspect.js'
import { registerIntrospectionRoute, STS_INTROSPECTION_PATH } from './introspection.js'
import { authenticateCaller } from './authenticate_caller.js'
import { reportRefusals } from '../limits/observed.js'
import { metricsFor, registerMetricsRoute, type MetricsSettings } from '../metrics/metrics.js'
import { openStsKeyStore } from './signing_keys.js'
import {
  createServerWithFastPath,
  createTokenFastPath,
  type TokenAnswer,
} from './token_fast_path.js'
import type { IncomingMessage, ServerResponse } from 'node:http'

export interface StsOptions {
  readonly logger: Logger
  /** For upstream discovery and JWKS requests (tests). */
  readonly fetch?: typeof fetch
  /** For the engine, the key cache and key files (tests). */
  readonly now?: Clock
  /**
   * Where the per-IP limit counts (e.g. Redis, shared by every STS instance); default: in this
   * process. Given the limit, returns the limiter.
   */
  readonly rateLimiter?: (limit: RateLimit) => RateLimiter
  /** Where the signing keys live (e.g. PostgreSQL); default: the configured key directory. */
  readonly signingKeyBackend?: SigningKeyBackend
  /** More readiness checks for `/readyz` (e.g. `redis`), besides the signing keys. */
  readonly readinessChecks?: Readonly<Record<string, () => Promise<unknown>>>
  /** Runs when the app closes, after its own resources (connections the caller opened for it). */
  readonly onClose?: () => Promise<void>
  /** Where DPoP proofs already seen are kept (e.g. Redis, shared); default: in this process. */
  readonly dpopReplay?: DpopReplayCache
  /**
   * The DPoP nonces handed out to clients whose policy says `dpop.nonce`; default: a random
   * secret of this process (instances behind one load balancer need a shared one).
   */
  readonly dpopNonces?: DpopNonces
  /** `GET /metrics` (Prometheus) on the STS's port; default off. */
  readonly metrics?: MetricsSettings
  /** Fastify's `trustProxy`: whose X-Forwarded-For names the client IP of the per-IP limit. */
  readonly trustProxy?: false | string[] | ((address: string, hop: number) => boolean)
  /**
   * Answer the common `POST /token` in front of Fastify (token_fast_path.ts); default on, and
   * only when `trustProxy` is off. Off: every token request goes through Fastify's route (the
   * A/B measurement and the tests that compare the two).
   */
  readonly tokenFastPath?: boolean
}

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post']

/** Every `DPoP` header of the request, as received. */
function dpopHeaders(rawHeaders: readonly string[]): string[] {
  const values: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === 'dpop') values.push(rawHeaders[i + 1] ?? '')
  }
  return values
}

export async function buildSts(config: StsConfig, options: StsOptions): Promise<FastifyInstance> {
  const { logger } = options
  const now = options.now ?? systemClock
  const metricsSettings = options.metrics ?? { enabled: false }
  const metrics = metricsFor('sts', metricsSettings)
  // What a DPoP proof's `htu` must name (RFC 9449 §4.3): the endpoint discovery publishes.
  const tokenEndpoint = `${config.issuer}/token`
  const signingKeys = await openStsKeyStore({
    ...config.keys,
    backend: options.signingKeyBackend,
    now,
    logger: logger.child({ component: 'sts' }),
  })

  const upstreams = new Map<string, RemoteKeySet>()
  for (const upstream of config.upstreams) {
    upstreams.set(
      upstream.issuer,
      createRemoteKeySet({
        issuer: upstream.issuer,
        jwksUri: upstream.jwksUri,
        algorithms: upstream.algorithms,
        cache: upstream.keyCache,
        fetch: options.fetch,
        now,
        logger: logger.child({ component: 'sts', upstream: upstream.name }),
        onFetchFailure: () => metrics.jwksFetchFailed(upstream.issuer),
      }),
    )
  }
  // Keys only ever come from the issuer the token names, and only with that issuer's algorithms.
  const verifier = createJwsVerifier({
    algorithms: [...new Set(config.upstreams.flatMap((upstream) => upstream.algorithms))],
    resolveKey: ({ iss, kid, alg }) =>
      iss === undefined ? undefined : upstreams.get(iss)?.getKey(kid, alg),
  })

  const subjectStatus = { isActive: async () => true }
  // The STS's own keys: replacements of txn tokens and introspection verify with nothing else.
  const ownVerifier = createJwsVerifier({
    algorithms: [SIGNING_ALGORITHM],
    resolveKey: ({ iss, kid }) =>
      iss === config.issuer && kid !== undefined ? signingKeys.findPublicKey(kid) : undefined,
  })
  // One runner, one minter, one audit sink for both grants: every token the STS issues, access
  // token or txn token, goes through the same audited decision.
  const runner = createGrantRunner<TokenExchangeAuditEvent | TxnTokenAuditEvent>({
    // The IdP's minter signature: the shared key directory's active key, picked per token.
    minter: createJwsMinter({ currentSigner: () => signingKeys.signer() }),
    audit: (event) => {
      logger.info(
        { audit: event, component: 'sts' },
        `${event.event === 'txn_token' ? 'txn token' : 'token exchange'} ${event.outcome}`,
      )
      metrics.tokenRequest(event.event, event.outcome, event.error)
    },
    now,
  })
  metrics.signingKeyCreatedAt(() => signingKeys.current().active.createdAt)
  const exchangeGrant = createTokenExchangeGrant({
    policy: config.policy,
    verifier,
    subjectStatus,
    dpop: {
      ...(options.dpopReplay === undefined ? {} : { replay: options.dpopReplay }),
      nonces:
        options.dpopNonces ?? createDpopNonces({ secret: randomBytes(32).toString('base64url') }),
    },
  })
  // Txn-Token Service mode (draft-ietf-oauth-transaction-tokens-10), when configured.
  const txnGrant =
    config.txnTokens === undefined
      ? undefined
      : createTxnTokenGrant({
          policy: config.txnTokens,
          subjectPolicy: config.policy,
          verifier,
          // Replacements: a txn token is verified with the STS's own keys, never an upstream's.
          ownVerifier,
          subjectStatus,
        })
  // RFC 7662 over the STS's own tokens; only the configured resource servers may ask.
  const introspect = config.introspection.enabled
    ? createIntrospector({
        policy: {
          trustedIssuers: [config.issuer],
          clockSkewSeconds: config.policy.clockSkewSeconds,
          targets: new Map(
            [...config.policy.targets].filter(([id]) =>
              config.introspection.resourceServers.includes(id),
            ),
          ),
        },
        verifier: ownVerifier,
        // No revocation record: the STS is stateless (see introspection.ts).
        status: { isActive: async () => true },
        now,
      })
    : undefined
  const authenticator = createClientAuthenticator(
    new Map(
      [...config.clientSecrets].map(([clientId, secret]) => [clientId, { clientId, secret }]),
    ),
  )

  // Set once the token route is built; until then (and when off) Fastify answers everything.
  let fastPath: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined
  let closing = false
  const app = Fastify({
    ...fastifyLogOptions(logger, 'sts'),
    serverFactory: (handler, settings) =>
      createServerWithFastPath(handler, settings, (req, res) => fastPath?.(req, res) ?? false),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: options.trustProxy ?? false,
    // POST /token writes its own record: one audit line per decision, a line per failed client
    // authentication and per body refused before the engine saw it. Fastify's two request lines
    // ("incoming request", "request completed") would triple the logging on the hot path and say
    // nothing more; the other routes keep them.
    logController: new LogController({
      disableRequestLogging: (request: { method?: string; url?: string }) =>
        request.method === 'POST' && request.url === '/token',
    }),
  })
  registerTraceContext(app)
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onClose', async () => {
    await signingKeys.close()
    await options.onClose?.()
  })

  app.get('/.well-known/oauth-authorization-server', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return {
      issuer: config.issuer,
      token_endpoint: tokenEndpoint,
      jwks_uri: `${config.issuer}/jwks`,
      grant_types_supported: [GRANT_TYPE_TOKEN_EXCHANGE],
      // RFC 8414 §2 requires the member; the STS has no authorization endpoint.
      response_types_supported: [],
      token_endpoint_auth_methods_supported: AUTH_METHODS,
      ...(introspect === undefined
        ? {}
        : {
            introspection_endpoint: `${config.issuer}${STS_INTROSPECTION_PATH}`,
            introspection_endpoint_auth_methods_supported: AUTH_METHODS,
          }),
      dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
      scopes_supported: [...new Set([...config.policy.targets.values()].flatMap((t) => t.scopes))],
    }
  })

  app.get('/jwks', async (_request, reply) => {
    // Short: a rotation by any instance reaches resource servers within a minute.
    reply.header('cache-control', 'public, max-age=60')
    reply.type('application/jwk-set+json')
    // Checked against the shared key file: a key another instance just rotated in is published.
    return signingKeys.publishedJwks()
  })

  registerMetricsRoute(app, metrics, metricsSettings)
  registerHealthRoutes(app, {
    logger,
    info: () => ({
      issuer: config.issuer,
      upstreams: [...upstreams.values()].map((upstream) => upstream.status()),
    }),
    checks: {
      signingKeys: () => signingKeys.sync(),
      ...options.readinessChecks,
    },
  })

  await app.register(async (tokenScope) => {
    // Form bodies only (RFC 6749 §3.2): JSON or text bodies are refused, never parsed.
    tokenScope.removeAllContentTypeParsers()
    await tokenScope.register(formbody, { bodyLimit: config.bodyLimitBytes })

    tokenScope.setErrorHandler((error: FastifyError, _request, reply) =>
      sendError(reply, asOAuthError(error)),
    )

    // Abuse limit per client IP, before the body is parsed (the IdP's token endpoint has the same).
    const ipLimit = { max: config.tokenRequestsPerMinutePerIp, windowSeconds: 60 }
    const limiter =
      config.tokenRequestsPerMinutePerIp <= 0
        ? UNLIMITED
        : (options.rateLimiter?.(ipLimit) ?? createRateLimiter(ipLimit, { maxKeys: 10_000 }))
    const perIp =
      metrics.registry === undefined
        ? limiter
        : reportRefusals(limiter, () => metrics.limiterRefused('token:ip'))
    if (metrics.registry !== undefined) {
      tokenScope.addHook('onResponse', async (request, reply) => {
        if (request.method === 'POST' && request.url === '/token')
          metrics.tokenLatency(reply.elapsedTime / 1000, reply.statusCode)
      })
    }
    tokenScope.addHook('onRequest', async (request, reply) => {
      const wait = await perIp.retryAfter(request.ip)
      if (wait > 0) {
        const answer = throttled(wait)
        return reply
          .code(answer.statusCode)
          .headers({ ...NO_STORE_HEADERS, ...answer.headers })
          .send(answer.body)
      }
      await perIp.hit(request.ip)
    })

    if (introspect !== undefined) {
      registerIntrospectionRoute(tokenScope, { introspect, authenticator, logger })
    }

    tokenScope.post('/token', async (request, reply) => {
      const response = await answerToken(
        (request.body ?? {}) as GrantParams,
        request.headers.authorization,
        request.raw.rawHeaders,
      )
      reply.headers(NO_STORE_HEADERS)
      return response
    })

    if (options.tokenFastPath !== false && (options.trustProxy ?? false) === false) {
      fastPath = createTokenFastPath({
        bodyLimit: config.bodyLimitBytes,
        limiter: perIp,
        throttled,
        answer: answerToken,
        refuse: (error) => errorAnswer(asOAuthError(error as FastifyError | OAuthError)),
        unreadable: (error) => asOAuthError(asFastifyClientError(error)),
        ...(metrics.registry === undefined
          ? {}
          : {
              latency: (seconds: number, status: number) => metrics.tokenLatency(seconds, status),
            }),
        closing: () => closing,
      })
    }
  })

  /** The token route's work, for Fastify's route and the lean path alike. */
  async function answerToken(
    body: GrantParams,
    authorization: string | undefined,
    rawHeaders: readonly string[],
  ): Promise<unknown> {
    const client = authenticateCaller(authenticator, logger, authorization, body)
    const dpop = { headers: dpopHeaders(rawHeaders), htm: 'POST' as const, htu: tokenEndpoint }
    return txnGrant !== undefined && isTxnTokenRequest(body)
      ? await runner.run(txnGrant, { params: body, client })
      : await runner.run(exchangeGrant, { params: body, client, dpop })
  }

  /** The per-IP limit's refusal (RFC 6749 §5.2 shape, `Retry-After`), logged once. */
  function throttled(wait: number): TokenAnswer {
    logger.warn(
      { event: 'token_throttled', component: 'sts', limit: 'ip' },
      'token request throttled',
    )
    return {
      statusCode: 429,
      headers: { 'retry-after': String(wait) },
      body: {
        error: 'temporarily_unavailable',
        error_description: 'too many requests, retry later',
      },
    }
  }

  function asOAuthError(error: FastifyError | OAuthError): OAuthError | FastifyError {
    if (error instanceof OAuthError) return error
    // Fastify's own 4xx (unsupported media type, body too large, malformed body): the client's
    // fault, answered the OAuth way.
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      // The engine never saw this request, so no audit line records it.
      logger.info(
        { event: 'token_request_invalid', component: 'sts', detail: error.code ?? 'bad request' },
        'token request refused before the exchange',
      )
      return new InvalidRequest({
        description: 'request body is invalid',
        detail: `${error.code ?? 'bad request'}`,
      })
    }
    return error
  }

  /** What Fastify's body reader makes of a failed read: a 400 client error. */
  function asFastifyClientError(error: unknown): FastifyError {
    const failed = (error instanceof Error ? error : new Error(String(error))) as FastifyError
    if (!(typeof failed.statusCode === 'number' && failed.statusCode >= 400)) {
      ;(failed as { statusCode: number }).statusCode = 400
    }
    return failed
  }

  function errorAnswer(error: OAuthError | FastifyError): TokenAnswer {
    const response = toErrorResponse(error)
    if (response.statusCode >= 500) logger.error({ err: error, component: 'sts' }, 'sts error')
    return response
  }

  function sendError(reply: FastifyReply, error: OAuthError | FastifyError) {
    const response = errorAnswer(error)
    return reply
      .code(response.statusCode)
      .headers({ ...NO_STORE_HEADERS, ...response.headers })
      .send(response.body)
  }

  await app.ready()
  return app
}
