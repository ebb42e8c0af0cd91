/**
 * App B's second way to App C: instead of exchanging the user's token for a token addressed to App
 * C, App B asks the STS's Txn-Token Service for a transaction token of the trust domain
 * (draft-ietf-oauth-transaction-tokens-10 §11: an RFC 8693 exchange with `requested_token_type`
 * txn_token, App B's credentials) and calls App C's `/api/txn/activity` with it in the `Txn-Token`
 * header (§12.1), never `Authorization`. App C records the token's `txn` with the entry, so one
 * user action can be followed across services by its `txn` (§13.2).
 *
 * Same contract as the exchange link (`AppCLink`): faults are data naming the hop (`txn-token` or
 * `app-c`), tokens are never logged or returned, only decoded claims.
 *
 * @example
 * const link = createAppCTxnLink({ txnTokens, baseUrl: env.APP_C_URL })
 * const result = await link.record(userAccessToken, { action: 'todo.added', detail: 'Buy milk' })
 */
import type { z } from 'zod'
import { TokenExchangeError, txnTokenHeaders, type TxnTokenClient } from '../../client/index.js'
import { fetchJson } from '../../client/fetch_json.js'
import {
  ACTIVITY_READ_SCOPE,
  ACTIVITY_WRITE_SCOPE,
  activityPageSchema,
  readAppCAnswer,
  recordedSchema,
  type AppCLink,
  type AppCResult,
  type ExchangedForAppC,
} from './app_c_link.js'

export interface AppCTxnLinkOptions {
  /** App B's Txn-Token client (App B's credentials at the STS, the trust domain). */
  readonly txnTokens: TxnTokenClient
  /** App C's base URL (`APP_C_URL`). */
  readonly baseUrl: string
  readonly fetch?: typeof fetch
  /** Per call to App C. Default 5000. */
  readonly timeoutMs?: number
}

export function createAppCTxnLink(options: AppCTxnLinkOptions): AppCLink {
  const { txnTokens } = options
  const baseUrl = new URL(options.baseUrl).href.replace(/\/+$/, '')
  const fetchImpl = options.fetch ?? globalThis.fetch
  const timeoutMs = options.timeoutMs ?? 5000

  async function call<T>(
    subjectToken: string,
    scope: string,
    request: { method: 'GET' | 'POST'; body?: { action: string; detail: string } },
    schema: z.ZodType<T>,
  ): Promise<AppCResult<T>> {
    let txnToken: string
    let exchanged: ExchangedForAppC
    try {
      const result = await txnTokens.request({
        subjectToken,
        scope,
        // §11.1 request_details → tctx: what this transaction is about, immutable downstream.
        ...(request.body ? { requestDetails: { action: request.body.action } } : {}),
      })
      txnToken = result.txnToken
      exchanged = { claims: result.claims, scope: result.scope, fromCache: false }
    } catch (error) {
      if (!(error instanceof TokenExchangeError)) throw error
      return {
        ok: false,
        failure: {
          hop: 'txn-token',
          error: error.error,
          ...(error.description ? { description: error.description } : {}),
          ...(error.statusCode !== undefined ? { status: error.statusCode } : {}),
        },
      }
    }
    const answer = await fetchJson(
      fetchImpl,
      `${baseUrl}/api/txn/activity`,
      {
        method: request.method,
        headers: {
          ...txnTokenHeaders(txnToken),
          accept: 'application/json',
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      },
      timeoutMs,
    )
    return readAppCAnswer(answer, schema, exchanged)
  }

  return {
    record: (subjectToken, activity) =>
      call(subjectToken, ACTIVITY_WRITE_SCOPE, { method: 'POST', body: activity }, recordedSchema),
    read: (subjectToken) =>
      call(subjectToken, ACTIVITY_READ_SCOPE, { method: 'GET' }, activityPageSchema),
  }
}
