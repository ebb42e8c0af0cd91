/**
 * The workload side of Transaction Tokens (draft-ietf-oauth-transaction-tokens-10; section numbers
 * of draft-10): request a txn token from a Txn-Token Service with the access token the workload
 * received (§11.1, an RFC 8693 exchange with `requested_token_type` txn_token), ask for a
 * replacement that adds context (§13.15), and send it to the next workload in the `Txn-Token`
 * header, never `Authorization` (§12, §13.13).
 *
 * The workload authenticates with `client_secret_basic` (§11.5: the service must know who asks).
 * Faults are `TokenExchangeError`s, as for the exchange client. Tokens are never logged; `claims`
 * is the decoded (not verified) payload, for display and tracing (`txn`).
 *
 * No cache: each transaction gets its own `txn` (§11.3), so a txn token is requested per
 * transaction and forwarded unchanged down the call chain (§12.2).
 *
 * @example
 * ```ts
 * const txnTokens = createTxnTokenClient({
 *   tokenEndpoint: 'http://localhost:9100/token',
 *   clientId: 'app-b',
 *   clientSecret,
 *   trustDomain: 'onbehalf.local',
 * })
 * const { txnToken, txn } = await txnTokens.request({ subjectToken, scope: 'todos:write' })
 * await fetch(appCUrl, { method: 'POST', headers: { ...txnTokenHeaders(txnToken) }, body })
 * ```
 */
import { decodeJwt } from 'jose'
import { z } from 'zod'
import {
  basicAuthorization,
  checkTokenEndpointAnswer,
  postTokenRequest,
  resolveTokenEndpoint,
  TokenExchangeError,
} from './token_endpoint.js'
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from './token_exchange_client.js'
import { systemClock, type Clock } from '../time/clock.js'

export const TXN_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:txn_token'
/** §12.1: the header a txn token travels in. */
export const TXN_TOKEN_HEADER = 'txn-token'

export interface TxnTokenClientOptions {
  /** The Txn-Token Service's token endpoint, or a function resolving it per request. */
  readonly tokenEndpoint: string | (() => Promise<string> | string)
  readonly clientId: string
  readonly clientSecret: string
  /** The trust domain, sent as `audience` (§11.1). */
  readonly trustDomain: string
  readonly fetch?: typeof fetch
  readonly now?: Clock
  /** Default 5000. */
  readonly timeoutMs?: number
}

/** A flat JSON object (§11.1 `request_context`, `request_details`). */
export type TxnContextInput = Readonly<Record<string, string | number | boolean>>

export interface TxnTokenRequestParams {
  /** The access token this workload received for the user. */
  readonly subjectToken: string
  /** The purpose of the transaction (§11.1: required). */
  readonly scope: string
  /** Environment of the request (`req_ip`, `authn`, …) → `rctx`. */
  readonly requestContext?: TxnContextInput
  /** Parameters the next workloads must be able to trust → `tctx`. */
  readonly requestDetails?: TxnContextInput
}

export interface TxnTokenReplaceParams {
  /** The txn token to replace (§13.15): `sub`, `aud` and `txn` stay. */
  readonly txnToken: string
  /** Same or narrower; default the current token's scope. */
  readonly scope?: string
  readonly requestContext?: TxnContextInput
  readonly requestDetails?: TxnContextInput
}

export interface TxnTokenResult {
  readonly txnToken: string
  /** §9.2 `txn`, from the decoded payload: the id to trace the call chain by. */
  readonly txn: string | undefined
  readonly scope: string | undefined
  /** Seconds since the epoch. */
  readonly expiresAt: number
  readonly claims: Record<string, unknown> | undefined
  readonly durationMs: number
}

export interface TxnTokenClient {
  request(params: TxnTokenRequestParams): Promise<TxnTokenResult>
  replace(params: TxnTokenReplaceParams): Promise<TxnTokenResult>
}

const successSchema = z.object({
  access_token: z.string().min(1),
  issued_token_type: z.string().min(1),
  token_type: z.string().min(1),
  expires_in: z.number().int().positive().optional(),
  scope: z.string().optional(),
  refresh_token: z.unknown().optional(),
})

const PEER = 'the Txn-Token Service'

/** The headers that carry a txn token to the next workload (§12.1), as received (§12.2). */
export function txnTokenHeaders(txnToken: string): { readonly 'txn-token': string } {
  if (typeof txnToken !== 'string' || txnToken === '' || /[\s,]/.test(txnToken)) {
    throw new TypeError('txnTokenHeaders: a txn token is one compact JWS')
  }
  return { [TXN_TOKEN_HEADER]: txnToken } as { readonly 'txn-token': string }
}

export function createTxnTokenClient(options: TxnTokenClientOptions): TxnTokenClient {
  if (!options.clientId || !options.clientSecret) {
    throw new TypeError(
      'clientId and clientSecret are required (the service authenticates workloads)',
    )
  }
  if (!options.trustDomain) throw new TypeError('trustDomain is required')
  const fetchImpl = options.fetch ?? globalThis.fetch
  const now = options.now ?? systemClock
  const timeoutMs = options.timeoutMs ?? 5000
  const authorization = basicAuthorization(options.clientId, options.clientSecret)

  async function post(form: URLSearchParams, fallbackScope: string): Promise<TxnTokenResult> {
    const started = performance.now()
    const endpoint = await resolveTokenEndpoint(
      options.tokenEndpoint,
      'the token endpoint is unknown',
    )
    const answer = await postTokenRequest(
      fetchImpl,
      endpoint,
      { authorization, body: form },
      timeoutMs,
      PEER,
    )
    checkTokenEndpointAnswer(answer, PEER)
    const { response, json } = answer
    const parsed = successSchema.safeParse(json)
    // §11.4: token_type N_A, issued_token_type txn_token, no refresh token.
    if (
      !parsed.success ||
      parsed.data.token_type !== 'N_A' ||
      parsed.data.issued_token_type !== TXN_TOKEN_TYPE ||
      parsed.data.refresh_token !== undefined
    ) {
      throw new TokenExchangeError(
        'invalid_response',
        'the answer is not a Txn-Token Response',
        response.status,
      )
    }
    const data = parsed.data
    const claims = decodeClaims(data.access_token)
    const exp = typeof claims?.exp === 'number' ? claims.exp : undefined
    return Object.freeze({
      txnToken: data.access_token,
      txn: typeof claims?.txn === 'string' ? claims.txn : undefined,
      scope: data.scope ?? fallbackScope,
      expiresAt: data.expires_in !== undefined ? now() + data.expires_in : (exp ?? now()),
      claims,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    })
  }

  function form(
    subjectToken: string,
    subjectTokenType: string,
    scope: string,
    context: Pick<TxnTokenRequestParams, 'requestContext' | 'requestDetails'>,
  ): URLSearchParams {
    const body = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      requested_token_type: TXN_TOKEN_TYPE,
      audience: options.trustDomain,
      scope,
      subject_token: subjectToken,
      subject_token_type: subjectTokenType,
    })
    if (context.requestContext) body.set('request_context', JSON.stringify(context.requestContext))
    if (context.requestDetails) body.set('request_details', JSON.stringify(context.requestDetails))
    return body
  }

  return Object.freeze({
    async request(params: TxnTokenRequestParams) {
      if (!params?.subjectToken) throw new TypeError('subjectToken is required')
      if (!params.scope) throw new TypeError('scope (the purpose) is required')
      return post(form(params.subjectToken, ACCESS_TOKEN_TYPE, params.scope, params), params.scope)
    },
    async replace(params: TxnTokenReplaceParams) {
      if (!params?.txnToken) throw new TypeError('txnToken is required')
      const current = decodeClaims(params.txnToken)?.scope
      const scope = params.scope ?? (typeof current === 'string' ? current : undefined)
      if (!scope) throw new TypeError('scope is required (the txn token carries none)')
      return post(form(params.txnToken, TXN_TOKEN_TYPE, scope, params), scope)
    },
  })
}

function decodeClaims(token: string): Record<string, unknown> | undefined {
  try {
    return decodeJwt(token) as Record<string, unknown>
  } catch {
    return undefined
  }
}
