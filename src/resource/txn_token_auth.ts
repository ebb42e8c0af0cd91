/**
 * Fastify hook over the framework-free txn-token checks (`./txn_token.ts`): a route that needs a
 * transaction token (draft-ietf-oauth-transaction-tokens-10 §12) reads the one `Txn-Token` header,
 * verifies it and sets `request.txnToken`; a refusal is answered as JSON with no challenge. As a
 * policy per route: `requireTxnToken` alone accepts a txn token instead of a bearer token; beside
 * `requireBearer` in the same `preHandler` list, a call needs both.
 *
 * Tokens never reach a log; refusals log the code, the private detail and, once verified, `txn`.
 */
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { ResourceAuthError } from './errors.js'
import {
  readTxnToken,
  txnTokenErrorResponse,
  type TxnTokenVerifier,
  type VerifiedTxnToken,
} from './txn_token.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireTxnToken` once the txn token passed every check. */
    txnToken?: VerifiedTxnToken | null
  }
}

export interface RequireTxnTokenOptions {
  readonly verifier: TxnTokenVerifier
  /** Scopes (purposes) this route needs, on top of the verifier's. */
  readonly scopes?: readonly string[]
}

/**
 * @example
 * ```ts
 * app.post('/api/activity', { preHandler: requireTxnToken({ verifier, scopes: ['todos:write'] }) },
 *   async (request) => record(request.txnToken!.sub, request.txnToken!.txn))
 * ```
 */
export function requireTxnToken(options: RequireTxnTokenOptions): preHandlerAsyncHookHandler {
  const { verifier } = options
  if (typeof verifier !== 'function') throw new TypeError('"verifier" must be a txn token verifier')
  const scopes = Object.freeze([...(options.scopes ?? [])])
  return async function txnTokenHook(request, reply) {
    request.txnToken = null
    try {
      const txn = await verifier(readTxnToken(txnRequestOf(request)))
      const missing = scopes.filter((scope) => !txn.scopes.includes(scope))
      if (missing.length > 0) {
        throw new ResourceAuthError('insufficient_scope', {
          detail: `txn token lacks scope ${missing.join(' ')}`,
          requiredScopes: scopes,
          credential: 'txn_token',
        })
      }
      request.txnToken = txn
    } catch (cause) {
      const { statusCode, headers, body } = txnTokenErrorResponse(cause)
      const detail = cause instanceof ResourceAuthError ? cause.detail : 'unexpected error'
      request.log.info(
        { txnTokenAuth: { outcome: 'denied', error: body.error, detail } },
        'txn token refused',
      )
      return reply.code(statusCode).headers(headers).send(body)
    }
  }
}

/** The txn token exactly as received, to forward unchanged to the next workload (§12.2). */
export function receivedTxnToken(request: FastifyRequest): string {
  return readTxnToken(txnRequestOf(request))
}

function txnRequestOf(request: FastifyRequest) {
  return { headers: request.headers, rawHeaders: request.raw.rawHeaders }
}
