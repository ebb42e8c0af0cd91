/**
 * A protected API shaped like App B's service API (`GET /api/todos/count` behind `requireBearer`,
 * scope todos:read), verifying with keys from a live JWKS server, listening on 127.0.0.1 port 0.
 */
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { createAccessTokenVerifier } from '../../src/resource/index.js'
import { bearerAuth } from '../../src/resource/fastify.js'
import { AUDIENCE, ISSUER, type JwksServer } from '../resource/helpers.js'

export async function startProtectedApi(
  jwks: JwksServer,
): Promise<{ app: FastifyInstance; url: string }> {
  const verifier = createAccessTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: jwks.url,
  })
  const app = Fastify({ logger: false })
  await app.register(bearerAuth, { realm: 'app-b' })
  app.get(
    '/api/todos/count',
    { preHandler: app.requireBearer({ verifier, scopes: ['todos:read'] }) },
    async (request) => ({
      count: 0,
      sub: request.accessToken?.sub,
    }),
  )
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return { app, url: `http://127.0.0.1:${port}/api/todos/count` }
}
