/**
 * App B's API for other services (App A calls it with a token from an RFC 8693 exchange).
 *
 * Bearer tokens only, never cookies: this plugin is encapsulated and registered beside the web UI,
 * not inside it, so no session or cookie hook runs here. Which user's data is served is decided by
 * the verified token alone (`sub`), and who may ask by the verifier's caller policy (`act.sub`,
 * `azp`/`client_id`). Every call leaves one structured audit line (caller, sub, jti, outcome;
 * never the token).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import {
  bearerAuth,
  type AccessTokenVerifier,
  type VerifiedAccessToken,
} from '../../resource/index.js'
import type { TodoStore } from './todo_store.js'

/** The scope App B's service API requires. */
export const SERVICE_API_SCOPE = 'todos:read'

export interface ServiceApiOptions {
  readonly store: TodoStore
  /** Verifier addressed to App B (`audience`), with its caller policy. */
  readonly verifier: AccessTokenVerifier
  /** `realm` of the Bearer challenge. */
  readonly realm: string
}

const todoSchema = {
  type: 'object',
  required: ['id', 'title', 'completed', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'integer' },
    title: { type: 'string' },
    completed: { type: 'boolean' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const

const decision = {
  user: { type: 'string' },
  caller: { type: 'string' },
  decidedBy: { type: 'string', enum: ['token'] },
} as const

const countResponse = {
  200: {
    type: 'object',
    required: ['count', 'open', 'user', 'caller', 'decidedBy'],
    properties: { count: { type: 'integer' }, open: { type: 'integer' }, ...decision },
  },
} as const

const listResponse = {
  200: {
    type: 'object',
    required: ['todos', 'user', 'caller', 'decidedBy'],
    properties: { todos: { type: 'array', items: todoSchema }, ...decision },
  },
} as const

function verifiedToken(request: FastifyRequest): VerifiedAccessToken {
  // The preHandler above sets it or answers the request; reaching here without it is a wiring bug.
  if (!request.accessToken) throw new Error('service api route reached without a verified token')
  return request.accessToken
}

export async function serviceApi(fastify: FastifyInstance, options: ServiceApiOptions): Promise<void> {
  const { store, verifier, realm } = options
  await fastify.register(bearerAuth, { realm })
  fastify.addHook('preHandler', fastify.requireBearer({ verifier, scopes: [SERVICE_API_SCOPE] }))
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
          event: 'app-b.service_api',
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
        },
      },
      `service api call ${outcome}`,
    )
  })

  fastify.get('/api/todos/count', { schema: { response: countResponse } }, async (request) => {
    const token = verifiedToken(request)
    const { total, open } = store.count(token.sub)
    return { count: total, open, user: token.sub, caller: token.caller, decidedBy: 'token' }
  })

  fastify.get('/api/todos', { schema: { response: listResponse } }, async (request) => {
    const token = verifiedToken(request)
    return {
      todos: store.list(token.sub),
      user: token.sub,
      caller: token.caller,
      decidedBy: 'token',
    }
  })
}
