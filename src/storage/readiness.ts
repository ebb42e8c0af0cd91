/**
 * `/healthz` and `/readyz` for every onbehalf service, the way a load balancer and an orchestrator
 * ask: `/healthz` answers 200 while the process serves requests (liveness: nothing is checked, so
 * a database outage never gets every instance restarted); `/readyz` runs each readiness check
 * (database, Redis, signing keys) with a time limit and answers 200 when all pass, 503 naming the
 * checks that failed otherwise (route traffic elsewhere). Failure reasons go to the log, not to the
 * caller.
 *
 * @example
 * registerHealthRoutes(app, { checks: { database: () => store.ping() }, logger })
 */
import type { FastifyInstance } from 'fastify'
import type { Logger } from '../log/logger.js'

export type ReadinessCheck = () => Promise<unknown>

export interface HealthRoutesOptions {
  /** Named checks; each resolves when its dependency is usable. */
  readonly checks: Readonly<Record<string, ReadinessCheck>>
  readonly logger: Logger
  /** Extra fields for `/healthz` (the IdP's issuer, the STS's upstream status). */
  readonly info?: () => Readonly<Record<string, unknown>>
  /** How long one check may take before it counts as failed. Default 2000 ms. */
  readonly timeoutMs?: number
}

function withTimeout(check: ReadinessCheck, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    check(),
    new Promise((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

export function registerHealthRoutes(app: FastifyInstance, options: HealthRoutesOptions): void {
  const timeoutMs = options.timeoutMs ?? 2000
  app.get('/healthz', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    return { ok: true, ...options.info?.() }
  })
  app.get('/readyz', async (_request, reply) => {
    const names = Object.keys(options.checks)
    const results = await Promise.allSettled(
      names.map((name) => withTimeout(options.checks[name]!, timeoutMs)),
    )
    const checks: Record<string, 'ok' | 'failed'> = {}
    results.forEach((result, index) => {
      const name = names[index]!
      checks[name] = result.status === 'fulfilled' ? 'ok' : 'failed'
      if (result.status === 'rejected') {
        options.logger.warn(
          { event: 'readiness_failed', check: name, reason: (result.reason as Error)?.message },
          'readiness check failed',
        )
      }
    })
    const ready = results.every((result) => result.status === 'fulfilled')
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ ready, checks })
  })
}
