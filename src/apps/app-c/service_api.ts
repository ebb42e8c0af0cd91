/**
 * App C's API: an activity log that other services write to and read from on behalf of a user.
 * App B calls it with a token from a second exchange, so a call that started in App A arrives with
 * `act = { sub: app-b, act: { sub: app-a } }`.
 *
 * RFC 8693 §4.1: access control uses only the top-level claims and the outermost actor (the
 * verifier's caller policy: `azp`/`client_id` and `act.sub` must be allowed callers); the nested
 * actors are recorded with each entry and reported back, but never decide anything.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type {
  AccessTokenVerifier,
  TxnTokenVerifier,
  VerifiedAccessToken,
  VerifiedTxnToken,
} from '../../resource/index.js'
import { bearerAuth, requireTxnToken } from '../../resource/fastify.js'
import { registerServiceAudit } from '../../resource/service_audit.js'
import { ActivityValidationError, parseActivity, type ActivityStore } from './activity_store.js'

export const ACTIVITY_READ_SCOPE = 'activity:read'
export const ACTIVITY_WRITE_SCOPE = 'activity:write'

export interface AppCServiceOptions {
  readonly store: ActivityStore
  readonly verifier: AccessTokenVerifier
  readonly realm: string
  /**
   * The second way in: `/api/txn/activity` takes a transaction token in the `Txn-Token` header
   * (draft-ietf-oauth-transaction-tokens-10 §12) instead of a bearer token, and records its `txn`.
   */
  readonly txnVerifier?: TxnTokenVerifier
  /** RFC 9728 metadata URL, named in every challenge (`resource_metadata`). */
  readonly resourceMetadata?: string
}

/** What App C verified on a txn token, as a caller may display it (never the token). */
function seenTxn(token: VerifiedTxnToken): Record<string, unknown> {
  const { claims } = token
  return {
    sub: token.sub,
    aud: claims.aud,
    iss: claims.iss,
    txn: token.txn,
    scope: claims.scope,
    req_wl: token.reqWl,
    tctx: token.tctx,
    rctx: token.rctx,
    iat: token.iat,
    exp: token.exp,
  }
}

/** The claims App C verified, as a caller may display them (never the token). */
export interface SeenToken {
  readonly sub: string
  readonly aud: unknown
  readonly azp: string | undefined
  readonly client_id: string
  readonly act: unknown
  readonly scope: unknown
  readonly iat: unknown
  readonly exp: number
  readonly jti: string
}

function verified(request: FastifyRequest): VerifiedAccessToken {
  if (!request.accessToken) throw new Error('service api route reached without a verified token')
  return request.accessToken
}

function seen(token: VerifiedAccessToken): SeenToken {
  const { claims } = token
  return {
    sub: token.sub,
    aud: claims.aud,
    azp: token.azp,
    client_id: token.clientId,
    act: claims.act,
    scope: claims.scope,
    iat: claims.iat,
    exp: token.exp,
    jti: token.jti,
  }
}

export async function appCServiceApi(
  fastify: FastifyInstance,
  options: AppCServiceOptions,
): Promise<void> {
  const { store, verifier, realm } = options
  const metadata = options.resourceMetadata ? { resourceMetadata: options.resourceMetadata } : {}
  await fastify.register(bearerAuth, { realm })
  registerServiceAudit(fastify, { event: 'app-c.service_api' })

  fastify.post(
    '/api/activity',
    {
      preHandler: fastify.requireBearer({ verifier, scopes: [ACTIVITY_WRITE_SCOPE], ...metadata }),
    },
    async (request, reply) => {
      const token = verified(request)
      let activity: { action: string; detail: string }
      try {
        activity = parseActivity(request.body)
      } catch (error) {
        if (error instanceof ActivityValidationError) {
          return reply
            .code(400)
            .send({ error: 'invalid_request', error_description: error.message })
        }
        throw error
      }
      const entry = await store.record(token.sub, {
        ...activity,
        recordedBy: token.caller,
        actorChain: token.actorChain,
      })
      return reply.code(201).send({
        entry,
        user: token.sub,
        caller: token.caller,
        actorChain: token.actorChain,
        seen: seen(token),
      })
    },
  )

  fastify.get(
    '/api/activity',
    { preHandler: fastify.requireBearer({ verifier, scopes: [ACTIVITY_READ_SCOPE], ...metadata }) },
    async (request) => {
      const token = verified(request)
      return {
        entries: await store.recent(token.sub, 20),
        user: token.sub,
        caller: token.caller,
        actorChain: token.actorChain,
        seen: seen(token),
      }
    },
  )

  const { txnVerifier } = options
  if (!txnVerifier) return
  const verifiedTxn = (request: FastifyRequest): VerifiedTxnToken => {
    if (!request.txnToken) throw new Error('txn route reached without a verified txn token')
    return request.txnToken
  }

  fastify.post(
    '/api/txn/activity',
    { preHandler: requireTxnToken({ verifier: txnVerifier, scopes: [ACTIVITY_WRITE_SCOPE] }) },
    async (request, reply) => {
      const token = verifiedTxn(request)
      let activity: { action: string; detail: string }
      try {
        activity = parseActivity(request.body)
      } catch (error) {
        if (error instanceof ActivityValidationError) {
          return reply
            .code(400)
            .send({ error: 'invalid_request', error_description: error.message })
        }
        throw error
      }
      // §13.2: the txn is logged with the activity, so one user action can be followed across
      // services; the requesting workload (req_wl) is who recorded it.
      const entry = await store.record(token.sub, {
        ...activity,
        recordedBy: token.reqWl,
        actorChain: [token.reqWl],
        txn: token.txn,
      })
      request.log.info({ txn: token.txn, reqWl: token.reqWl }, 'activity recorded in a transaction')
      return reply.code(201).send({
        entry,
        user: token.sub,
        caller: token.reqWl,
        actorChain: [token.reqWl],
        seen: seenTxn(token),
      })
    },
  )

  fastify.get(
    '/api/txn/activity',
    { preHandler: requireTxnToken({ verifier: txnVerifier, scopes: [ACTIVITY_READ_SCOPE] }) },
    async (request) => {
      const token = verifiedTxn(request)
      return {
        entries: await store.recent(token.sub, 20),
        user: token.sub,
        caller: token.reqWl,
        actorChain: [token.reqWl],
        seen: seenTxn(token),
      }
    },
  )
}
