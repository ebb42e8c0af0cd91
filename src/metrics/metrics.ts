/**
 * Prometheus metrics (prom-client) of one onbehalf service: a registry per service (its `service`
 * label set once), the metrics the service layer records, and `GET /metrics` behind the settings.
 *
 * Lower layers know nothing of prom-client: the engine reports every grant decision through its
 * audit sink, the limiters and the remote key sets through callbacks, and the service layer (the
 * IdP, the STS, the apps) maps those to the calls below. Each call is one label lookup and one
 * increment: no allocation-heavy work on the token endpoint. Label values are fixed vocabularies
 * (grant names, OAuth error codes, limit names, status codes), never request input.
 *
 *   onbehalf_token_requests_total{grant,outcome,error}   one per grant decision (audit event)
 *   onbehalf_token_endpoint_duration_seconds{status}     token endpoint latency
 *   onbehalf_limiter_refusals_total{limit}               requests refused by an abuse limit
 *   onbehalf_signing_key_age_seconds                     age of the active signing key
 *   onbehalf_jwks_fetch_failures_total{issuer}           failed fetches of a remote JWKS
 *   process_*, nodejs_*                                  prom-client's default metrics
 *
 * @example
 * const metrics = createServiceMetrics('sts')
 * metrics.tokenRequest('token_exchange', 'refused', 'invalid_grant')
 * registerMetricsRoute(app, metrics, { enabled: true, token: env.METRICS_TOKEN })
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

export interface MetricsSettings {
  /** Serve `GET /metrics` on the service's own port (METRICS=on). */
  readonly enabled: boolean
  /** When set, a scrape must send `Authorization: Bearer <token>` (METRICS_TOKEN). */
  readonly token?: string
}

export interface ServiceMetrics {
  /** Undefined when metrics are off (every call below is then a no-op). */
  readonly registry: Registry | undefined
  /** One grant decision: `grant` is the audit event name, `error` the OAuth error code if any. */
  tokenRequest(grant: string, outcome: string, error: string | undefined): void
  /** One token endpoint response, `seconds` after the request arrived. */
  tokenLatency(seconds: number, status: number): void
  /** A request refused by the abuse limit `limit` (`token:ip`, `login:username`, …). */
  limiterRefused(limit: string): void
  /** A fetch of `issuer`'s JWKS failed (after its retries). */
  jwksFetchFailed(issuer: string): void
  /** Where the key age gauge reads the active signing key's creation time (epoch seconds). */
  signingKeyCreatedAt(source: () => number | undefined): void
}

/** Seconds: 1 ms to 5 s, where token endpoint latencies fall (an ES256 signature is ~0.1 ms). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** Metrics switched off: every call is a no-op and nothing is registered. */
export const NO_METRICS: ServiceMetrics = Object.freeze({
  registry: undefined,
  tokenRequest: () => {},
  tokenLatency: () => {},
  limiterRefused: () => {},
  jwksFetchFailed: () => {},
  signingKeyCreatedAt: () => {},
})

/** The metrics of one service; `NO_METRICS` unless `settings.enabled`. */
export function metricsFor(service: string, settings: MetricsSettings): ServiceMetrics {
  return settings.enabled ? createServiceMetrics(service) : NO_METRICS
}

export function createServiceMetrics(service: string): ServiceMetrics {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  collectDefaultMetrics({ register: registry })
  const requests = new Counter({
    name: 'onbehalf_token_requests_total',
    help: 'Token requests decided by the engine, by grant, outcome and OAuth error code.',
    labelNames: ['grant', 'outcome', 'error'] as const,
    registers: [registry],
  })
  const latency = new Histogram({
    name: 'onbehalf_token_endpoint_duration_seconds',
    help: 'Token endpoint latency, from request to response, by HTTP status.',
    labelNames: ['status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  })
  const refusals = new Counter({
    name: 'onbehalf_limiter_refusals_total',
    help: 'Requests refused by an abuse limit, by limit.',
    labelNames: ['limit'] as const,
    registers: [registry],
  })
  const jwksFailures = new Counter({
    name: 'onbehalf_jwks_fetch_failures_total',
    help: 'Failed fetches of a remote JWKS (after retries), by issuer.',
    labelNames: ['issuer'] as const,
    registers: [registry],
  })
  let keyCreatedAt: (() => number | undefined) | undefined
  new Gauge({
    name: 'onbehalf_signing_key_age_seconds',
    help: "Seconds since the active signing key's creation.",
    registers: [registry],
    collect() {
      const createdAt = keyCreatedAt?.()
      if (createdAt === undefined) this.reset()
      else this.set(Math.max(0, Date.now() / 1000 - createdAt))
    },
  })
  // Children cached per label set: after the first request of a kind, one Map lookup per call.
  const requestChildren = new Map<string, Counter.Internal>()
  const latencyChildren = new Map<number, Histogram.Internal<'status'>>()
  return Object.freeze({
    registry,
    tokenRequest(grant: string, outcome: string, error: string | undefined) {
      const key = `${grant} ${outcome} ${error ?? ''}`
      let child = requestChildren.get(key)
      if (child === undefined) {
        child = requests.labels(grant, outcome, error ?? '')
        requestChildren.set(key, child)
      }
      child.inc()
    },
    tokenLatency(seconds: number, status: number) {
      let child = latencyChildren.get(status)
      if (child === undefined) {
        child = latency.labels(String(status))
        latencyChildren.set(status, child)
      }
      child.observe(seconds)
    },
    limiterRefused(limit: string) {
      refusals.labels(limit).inc()
    },
    jwksFetchFailed(issuer: string) {
      jwksFailures.labels(issuer).inc()
    },
    signingKeyCreatedAt(source: () => number | undefined) {
      keyCreatedAt = source
    },
  })
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/**
 * `GET /metrics` in Prometheus' text format, when the metrics are on. With a token, a scrape
 * without `Authorization: Bearer <token>` gets 401 and no metrics (compared in constant time).
 */
export function registerMetricsRoute(
  app: FastifyInstance,
  metrics: ServiceMetrics,
  settings: MetricsSettings,
): void {
  const registry = metrics.registry
  if (!settings.enabled || registry === undefined) return
  const expected = settings.token === undefined ? undefined : digest(`Bearer ${settings.token}`)
  app.get('/metrics', async (request, reply) => {
    reply.header('cache-control', 'no-store')
    if (expected !== undefined) {
      const given = request.headers.authorization
      if (typeof given !== 'string' || !timingSafeEqual(digest(given), expected)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="metrics"')
          .send({ error: 'unauthorized' })
      }
    }
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}
