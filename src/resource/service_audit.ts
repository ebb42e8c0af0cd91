/**
 * What every service API of onbehalf does around its routes: `Cache-Control: no-store` on every
 * answer, and one structured audit line per call with who called (caller, client, actor chain),
 * for whom (`sub`), which token (`jti`) and the outcome — never the token itself.
 *
 * Register inside the encapsulated context of the service API, after `bearerAuth`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'

export interface ServiceAuditOptions {
  /** Audit event name, e.g. `app-c.service_api`. */
  readonly event: string
  /** Extra fields a service records for a call (e.g. App B's `decidedBy`); never token values. */
  readonly extra?: (request: FastifyRequest) => Record<string, unknown> | undefined
}

export function registerServiceAudit(fastify: FastifyInstance, options: ServiceAuditOptions): void {
  fastify.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
  })
  fastify.addHook('onResponse', async (request, reply) => {
    const token = request.accessToken
    const refused = request.accessTokenError
    const outcome = refused ? 'denied' : reply.statusCode < 400 ? 'allowed' : 'failed'
    request.log.info(
      {
        audit: {
          event: options.event,
          method: request.method,
          route: request.routeOptions.url,
          status: reply.statusCode,
          outcome,
          caller: token?.caller,
          clientId: token?.clientId,
          actorChain: token?.actorChain,
          sub: token?.sub,
          jti: token?.jti,
          error: refused?.error,
          detail: refused?.detail,
          ...options.extra?.(request),
        },
      },
      `service api call ${outcome}`,
    )
  })
}
