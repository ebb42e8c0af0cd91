/**
 * App B's API for other services (App A calls it with a token from an RFC 8693 exchange, or one of
 * the workaround paths shown next to it).
 *
 * Bearer tokens only, never cookies: this plugin is encapsulated and registered beside the web UI,
 * not inside it, so no session or cookie hook runs here. Who may ask is the verifier's caller policy
 * (`act.sub`, `azp`/`client_id`). Whose data is served is the identity policy's decision
 * (src/resource/identity_policy.ts): the verified token's `sub` (`decidedBy: 'token'`), or — only
 * for a caller named in `trustedHeaderCallers` presenting its own service token — the
 * `X-User-Sub` header (`decidedBy: 'trusted-header'`). A header that is not honoured is reported
 * (`headerIgnored`). Every call leaves one structured audit line (caller, sub, user, decidedBy, jti,
 * outcome; never the token).
 *
 * `GET /api/activity` (`activity:read` on top of `todos:read`) is the middle of the chain A → B → C:
 * App B exchanges the bearer token it received for one addressed to App C, so the chain grows by
 * one actor (`act = { sub: app-b, act: { sub: app-a } }` when App A called), and answers with App C's
 * entries and the claims App C verified. Only a token naming the user in `sub` is exchanged.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  createIdentityPolicy,
  ResourceAuthError,
  USER_HEADER,
  type AccessTokenVerifier,
  type IdentityDecision,
  type VerifiedAccessToken,
} from '../../resource/index.js'
import { bearerAuth, sendAuthError } from '../../resource/fastify.js'
import { readAccessToken } from '../../resource/bearer_auth.js'
import { checkScopes } from '../../resource/checks.js'
import { registerServiceAudit } from '../../resource/service_audit.js'
import { ACTIVITY_READ_SCOPE, describeAppCFailure, type AppCLink } from './app_c_link.js'
import {
  IdempotencyKeyReusedError,
  TodoValidationError,
  type Todo,
  type TodoStore,
} from './todo_store.js'
import { DPOP_ALGORITHMS, type DpopNonces, type DpopReplayCache } from '../../resource/index.js'

/** The scope App B's service API requires. */
export const SERVICE_API_SCOPE = 'todos:read'
/** The header that makes a todo write safe to retry (required on `POST /api/todos`). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'
/** The scope an agent needs to add and complete a user's todos through the service API. */
export const TODOS_WRITE_SCOPE = 'todos:write'

export interface ServiceApiOptions {
  readonly store: TodoStore
  /** Verifier addressed to App B (`audience`), with its caller policy. */
  readonly verifier: AccessTokenVerifier
  /** `realm` of the Bearer challenge. */
  readonly realm: string
  /** Callers whose own service token may name the user in `X-User-Sub`. Default: none. */
  readonly trustedHeaderCallers?: readonly string[]
  /** App B's way to App C; without it `GET /api/activity` is not offered. */
  readonly appC?: AppCLink
  /** The txn-token way to App C, used for `GET /api/activity?via=txn-token`. */
  readonly appCTxn?: AppCLink
  /**
   * App B's origin as callers reach it: DPoP-bound tokens (RFC 9449) are accepted, with a proof
   * whose `htu` names this origin. Without it only bearer tokens pass (a bound one never does).
   */
  readonly dpopOrigin?: string
  /** Where DPoP proofs already seen are kept; default: in this process. */
  readonly dpopReplay?: DpopReplayCache
  /** Demand server-issued DPoP nonces (RFC 9449 §9). */
  readonly dpopNonces?: DpopNonces
  /** RFC 9728 metadata URL, named in every challenge (`resource_metadata`). */
  readonly resourceMetadata?: string
  /** Display names of acting services (`act.sub` → "Assistant"), for `actorWrites`. */
  readonly actorNames?: Readonly<Record<string, string>>
}

/** How many of the latest todos written by a service for the user the count answer lists. */
const ACTOR_WRITES_SHOWN = 5

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by App B's service API once it decided whose data to serve. */
    identityDecision: IdentityDecision | null
  }
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
    addedBy: { type: ['string', 'null'] },
    completedBy: { type: ['string', 'null'] },
  },
} as const

const actorWriteSchema = {
  type: 'object',
  required: ['id', 'title', 'completed', 'addedBy', 'completedBy'],
  properties: {
    id: { type: 'integer' },
    title: { type: 'string' },
    completed: { type: 'boolean' },
    addedBy: { type: ['string', 'null'] },
    addedByName: { type: 'string' },
    completedBy: { type: ['string', 'null'] },
    completedByName: { type: 'string' },
  },
} as const

const decision = {
  user: { type: 'string' },
  caller: { type: 'string' },
  decidedBy: { type: 'string', enum: ['token', 'trusted-header'] },
  headerIgnored: { type: 'string' },
} as const

const countResponse = {
  200: {
    type: 'object',
    required: ['count', 'open', 'user', 'caller', 'decidedBy'],
    properties: {
      count: { type: 'integer' },
      open: { type: 'integer' },
      // The latest todos a service added or completed for the user, from the `act` of the token
      // that wrote them (App A's dashboard: "added by Assistant on your behalf").
      actorWrites: { type: 'array', items: actorWriteSchema },
      ...decision,
    },
  },
} as const

const writeResponse = {
  type: 'object',
  required: ['todo', 'user', 'caller', 'decidedBy'],
  properties: {
    todo: todoSchema,
    changed: { type: 'boolean' },
    replayed: { type: 'boolean' },
    ...decision,
  },
} as const

const listResponse = {
  200: {
    type: 'object',
    required: ['todos', 'user', 'caller', 'decidedBy'],
    properties: { todos: { type: 'array', items: todoSchema }, ...decision },
  },
} as const

const createdResponse = {
  '2xx': {
    type: 'object',
    required: ['replayed', 'user', 'caller', 'decidedBy'],
    properties: { replayed: { type: 'boolean' }, todo: todoSchema, ...decision },
  },
} as const

function verifiedToken(request: FastifyRequest): VerifiedAccessToken {
  // The preHandler above sets it or answers the request; reaching here without it is a wiring bug.
  if (!request.accessToken) throw new Error('service api route reached without a verified token')
  return request.accessToken
}

export async function serviceApi(
  fastify: FastifyInstance,
  options: ServiceApiOptions,
): Promise<void> {
  const { store, verifier, realm } = options
  const decideIdentity = createIdentityPolicy({
    trustedHeaderCallers: options.trustedHeaderCallers ?? [],
  })
  fastify.decorateRequest('identityDecision', null)
  await fastify.register(bearerAuth, { realm })
  const dpop =
    options.dpopOrigin === undefined
      ? undefined
      : {
          origin: options.dpopOrigin,
          ...(options.dpopReplay ? { replay: options.dpopReplay } : {}),
          ...(options.dpopNonces ? { nonces: options.dpopNonces } : {}),
        }
  fastify.addHook(
    'preHandler',
    fastify.requireBearer({
      verifier,
      scopes: [SERVICE_API_SCOPE],
      ...(dpop ? { dpop } : {}),
      ...(options.resourceMetadata ? { resourceMetadata: options.resourceMetadata } : {}),
    }),
  )
  fastify.addHook('preHandler', async (request) => {
    if (request.accessToken) {
      request.identityDecision = decideIdentity(request.accessToken, request.headers[USER_HEADER])
    }
  })
  registerServiceAudit(fastify, {
    event: 'app-b.service_api',
    extra: (request) => {
      const decision = request.identityDecision
      return decision
        ? {
            user: decision.user,
            decidedBy: decision.decidedBy,
            ...(decision.headerIgnored ? { headerIgnored: decision.headerIgnored } : {}),
          }
        : undefined
    },
  })

  /** The fields every answer carries: whose data, who asked, and which rule decided. */
  function decisionFields(request: FastifyRequest) {
    const token = verifiedToken(request)
    const decision = request.identityDecision
    if (!decision) throw new Error('service api route reached without an identity decision')
    return {
      user: decision.user,
      caller: token.caller,
      decidedBy: decision.decidedBy,
      ...(decision.headerIgnored ? { headerIgnored: decision.headerIgnored } : {}),
    }
  }

  const nameOf = (actor: string) => options.actorNames?.[actor] ?? actor
  const actorWrites = (todos: readonly Todo[]) =>
    todos
      .filter((todo) => todo.addedBy !== null || todo.completedBy !== null)
      .slice(-ACTOR_WRITES_SHOWN)
      .reverse()
      .map((todo) => ({
        id: todo.id,
        title: todo.title,
        completed: todo.completed,
        addedBy: todo.addedBy,
        ...(todo.addedBy === null ? {} : { addedByName: nameOf(todo.addedBy) }),
        completedBy: todo.completedBy,
        ...(todo.completedBy === null ? {} : { completedByName: nameOf(todo.completedBy) }),
      }))

  fastify.get('/api/todos/count', { schema: { response: countResponse } }, async (request) => {
    const fields = decisionFields(request)
    const [{ total, open }, todos] = await Promise.all([
      store.count(fields.user),
      store.list(fields.user),
    ])
    return { count: total, open, actorWrites: actorWrites(todos), ...fields }
  })

  /**
   * A route that needs `scope` on a token naming the user in `sub` — a service token naming the
   * user in a header is refused (`what` says for what, in the challenge's detail).
   */
  const requireUserToken =
    (scope: string, what: string) => async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        checkScopes(verifiedToken(request).scopes, [scope])
        if (request.identityDecision?.decidedBy !== 'token') {
          throw new ResourceAuthError('insufficient_scope', {
            detail: `${what} need a token naming the user in sub`,
            requiredScopes: [scope],
          })
        }
      } catch (error) {
        if (!(error instanceof ResourceAuthError)) throw error
        request.accessTokenError = error
        return sendAuthError(reply, realm, error, {
          ...(dpop === undefined ? {} : { dpopAlgorithms: DPOP_ALGORITHMS }),
          ...(options.resourceMetadata ? { resourceMetadata: options.resourceMetadata } : {}),
        })
      }
    }
  /**
   * Writes need `todos:write` and a token naming the user in `sub` (never a header). The acting
   * service is the token's outermost `act.sub` — recorded with the todo, so the owner sees
   * "added by Assistant on your behalf"; a token without `act` writes as the owner.
   */
  const writeGuard = requireUserToken(TODOS_WRITE_SCOPE, 'writes')
  const actorOf = (request: FastifyRequest) => verifiedToken(request).actorChain[0]

  fastify.post<{ Params: { id: string } }>(
    '/api/todos/:id/complete',
    { preHandler: writeGuard, schema: { response: { 200: writeResponse } } },
    async (request, reply) => {
      const fields = decisionFields(request)
      const id = /^[1-9][0-9]{0,15}$/.test(request.params.id) ? Number(request.params.id) : -1
      const result = await store.setCompleted(fields.user, id, true, actorOf(request))
      if (!result) {
        return reply
          .code(404)
          .send({ error: 'not_found', error_description: 'no such todo', ...fields })
      }
      return { todo: result.todo, changed: result.changed, ...fields }
    },
  )

  fastify.get('/api/todos', { schema: { response: listResponse } }, async (request) => {
    const fields = decisionFields(request)
    return { todos: await store.list(fields.user), ...fields }
  })

  /**
   * Adds a todo for the user: `todos:write` on a token naming the user in `sub`, and an
   * `Idempotency-Key` header (required: a client that lost the answer sends the same key again and
   * gets the stored todo back, 200 `replayed`, never a second one). 201 with the todo once stored
   * and committed: an acknowledged write is never lost.
   */
  fastify.post(
    '/api/todos',
    { schema: { response: createdResponse }, preHandler: writeGuard },
    async (request, reply) => {
      const fields = decisionFields(request)
      const key = request.headers[IDEMPOTENCY_KEY_HEADER]
      if (typeof key !== 'string') {
        return reply.code(400).send({
          error: 'invalid_request',
          error_description: 'an Idempotency-Key header is required',
        })
      }
      const title = (request.body as { title?: unknown } | null | undefined)?.title
      try {
        const result = await store.addOnce(fields.user, title as string, key, actorOf(request))
        if (result.replayed) {
          request.log.info({ todo: result.todo?.id }, 'todo creation replayed, nothing added')
          return reply
            .code(200)
            .send({ replayed: true, ...(result.todo ? { todo: result.todo } : {}), ...fields })
        }
        return reply.code(201).send({ replayed: false, todo: result.todo, ...fields })
      } catch (error) {
        if (error instanceof IdempotencyKeyReusedError) {
          return reply
            .code(422)
            .send({ error: 'idempotency_key_reused', error_description: error.message })
        }
        if (error instanceof TodoValidationError) {
          return reply
            .code(400)
            .send({ error: 'invalid_request', error_description: error.message })
        }
        throw error
      }
    },
  )

  const appC = options.appC
  if (!appC) return
  fastify.get(
    '/api/activity',
    {
      // Only the user's own delegated token is passed on: a service token naming the user in a
      // header has no user to exchange for (its `sub` is the service).
      preHandler: requireUserToken(ACTIVITY_READ_SCOPE, 'activity reads'),
    },
    async (request, reply) => {
      const fields = decisionFields(request)
      // ?via=txn-token: the same read through a txn token instead of a second exchange.
      const via = (request.query as { via?: unknown } | undefined)?.via
      const link = via === 'txn-token' && options.appCTxn ? options.appCTxn : appC
      // A DPoP-bound token cannot be re-exchanged here (App B does not hold its key): the engine
      // refuses it, and the answer names the hop.
      const result = await link.read(readAccessToken(request))
      if (!result.ok) {
        request.log.warn({ appC: result.failure }, 'activity from App C unavailable')
        return reply.code(502).send({
          error: 'upstream_failed',
          error_description: describeAppCFailure(result.failure),
          hop: result.failure.hop,
          upstream: result.failure,
          ...fields,
        })
      }
      const page = result.value
      return {
        entries: page.entries,
        seen: page.seen,
        via: link === appC ? 'exchange' : 'txn-token',
        appC: { user: page.user, caller: page.caller, actorChain: page.actorChain },
        ...fields,
      }
    },
  )
}
