/**
 * Keeps tokens and codes out of request logs. Fastify logs `req.url` on every request: an OAuth
 * callback carries `code`, a logout URL may carry `id_token_hint`, and a client that (wrongly) puts
 * `access_token` in the query would leak it even though the request is refused. Every onbehalf
 * service logs requests through this serializer (see `fastifyLogOptions` in logger.ts).
 */
import type { FastifyRequest } from 'fastify'

const TOKEN_QUERY =
  /([?&](?:access_token|token|code|id_token|id_token_hint|refresh_token|logout_token|client_assertion|client_secret|subject_token|actor_token)=)[^&#]*/gi

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
