/**
 * Keeps bearer tokens out of request logs. Fastify logs `req.url` on every request; a client that
 * (wrongly) puts `access_token` in the query would leak it there even though the kit refuses the
 * request. Give the app's logger this `req` serializer, e.g.
 * `Fastify({ loggerInstance: logger.child({}, { serializers: { req: requestLogSerializer } }) })`.
 */
import type { FastifyRequest } from 'fastify'

const TOKEN_QUERY = /([?&](?:access_token|token|code|id_token|refresh_token)=)[^&#]*/gi

/** The URL with the values of token-bearing query parameters replaced. */
export function redactUrlTokens(url: string): string {
  return url.replace(TOKEN_QUERY, '$1[redacted]')
}

/** Fastify's default `req` serializer, with the URL redacted. */
export function requestLogSerializer(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactUrlTokens(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  }
}
