/**
 * The client side of OAuth 2.0 Token Exchange (RFC 8693 §2.1): App A trades the signed-in user's
 * access token for a token addressed to another service (`audience`), authenticating itself with
 * `client_secret_basic` (RFC 6749 §2.3.1).
 *
 * Faults come back as one typed error, `TokenExchangeError`: `error` is the OAuth code from the
 * server (RFC 6749 §5.2, RFC 8693 §2.2.2) or `network_error` / `invalid_response` for transport
 * faults. A request that no instance answered (connection refused or reset, the load balancer's own
 * 502/503/504) is sent once more (`retry`, src/client/retry.ts). Tokens are never logged; `claims`
 * is the decoded (not verified) payload, for display.
 *
 * @example
 * const exchanger = createTokenExchangeClient({
 *   tokenEndpoint: async () => (await oidc.serverMetadata()).token_endpoint!,
 *   clientId: 'app-a',
 *   clientSecret,
 *   cache: new ExchangedTokenCache(),
 * })
 * const { accessToken } = await exchanger.exchange({ subjectToken, audience: 'app-b', scope: 'todos:read' })
 */
import { createHash } from 'node:crypto'
import { decodeJwt } from 'jose'
import { asksForDpopNonce, type DpopKey } from './dpop.js'
import { z } from 'zod'
import { ExchangedTokenCache, type CachedToken } from './exchanged_token_cache.js'
import {
  basicAuthorization,
  checkTokenEndpointAnswer,
  postTokenRequest,
  resolveTokenEndpoint,
  TokenExchangeError,
  type TokenRequest,
} from './token_endpoint.js'
import type { RetryReason } from './retry.js'
import { systemClock, type Clock } from '../time/clock.js'

export {
  basicAuthorization,
  TokenExchangeError,
  type TokenExchangeErrorCode,
} from './token_endpoint.js'

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'

export interface TokenExchangeClientOptions {
  /** The IdP's token endpoint, or a function resolving it (e.g. from discovery) per request. */
  tokenEndpoint: string | (() => Promise<string> | string)
  clientId: string
  clientSecret: string
  fetch?: typeof fetch
  cache?: ExchangedTokenCache
  now?: Clock
  /** Default 5000. */
  timeoutMs?: number
  /**
   * Prove possession of this key on every exchange (RFC 9449): the issued token comes back bound
   * to it (`cnf.jkt`, `token_type: DPoP`) and is useless without it.
   */
  dpop?: DpopKey
  /**
   * Send the request once more when the connection failed before an answer or the load balancer
   * answered 502/503/504 itself (src/client/retry.ts); never on a timeout or an OAuth error.
   * Default true.
   */
  retry?: boolean
  /** Called before the second attempt, with why (a connection error code or `gateway <status>`). */
  onRetry?: (reason: RetryReason) => void
}

export interface ExchangeParams {
  subjectToken: string
  /** Logical name of the target service (a client_id at our IdP). */
  audience: string
  scope?: string
  /** RFC 8707 resource indicator of the target, sent as `resource` (instead of or with `audience`). */
  resource?: string
  /** RFC 8693 actor token (the caller's own token: an agent acting for the user). */
  actorToken?: string
}

export interface ExchangeResult extends CachedToken {
  /** True when served from the cache without a request to the token endpoint. */
  fromCache: boolean
  /** Wall time of this call in milliseconds. */
  durationMs: number
}

export interface TokenExchangeClient {
  exchange(params: ExchangeParams): Promise<ExchangeResult>
}

const successSchema = z.object({
  access_token: z.string().min(1),
  issued_token_type: z.string().min(1),
  token_type: z.string().min(1),
  expires_in: z.number().int().positive().optional(),
  scope: z.string().optional(),
})

const PEER = 'the token endpoint'

function digestOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

function decodeClaims(token: string): Record<string, unknown> | undefined {
  try {
    return decodeJwt(token) as Record<string, unknown>
  } catch {
    return undefined
  }
}

export function createTokenExchangeClient(
  options: TokenExchangeClientOptions,
): TokenExchangeClient {
  if (!options.clientId || !options.clientSecret) {
    throw new TypeError(
      'clientId and clientSecret are required (token exchange needs a confidential client)',
    )
  }
  const fetchImpl = options.fetch ?? globalThis.fetch
  const now = options.now ?? systemClock
  const timeoutMs = options.timeoutMs ?? 5000
  const authorization = basicAuthorization(options.clientId, options.clientSecret)
  const tokenEndpoint = options.tokenEndpoint

  async function requestExchange(params: ExchangeParams): Promise<CachedToken> {
    const started = performance.now()
    const endpoint = await resolveTokenEndpoint(
      tokenEndpoint,
      'the token endpoint is unknown (IdP unreachable)',
    )
    const body = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: params.subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
    })
    if (params.audience) body.set('audience', params.audience)
    if (params.resource) body.set('resource', params.resource)
    if (params.scope) body.set('scope', params.scope)
    if (params.actorToken) {
      body.set('actor_token', params.actorToken)
      body.set('actor_token_type', ACCESS_TOKEN_TYPE)
    }
    const dpop = options.dpop
    const jkt = dpop?.jkt
    const send = async () =>
      postTokenRequest(
        fetchImpl,
        endpoint,
        // A fresh proof per attempt: the latest nonce the endpoint handed out goes with it.
        async (): Promise<TokenRequest> => ({
          authorization,
          body,
          ...(dpop === undefined
            ? {}
            : { headers: { dpop: await dpop.proof({ method: 'POST', url: endpoint, jkt }) } }),
        }),
        timeoutMs,
        PEER,
        // A token request is safe to repeat: once, when no instance answered (src/client/retry.ts).
        { enabled: options.retry !== false, onRetry: options.onRetry },
      )
    let answer = await send()
    if (dpop !== undefined) {
      dpop.rememberNonce(endpoint, answer.response)
      // RFC 9449 §8: the server wants its nonce in the proof; once more with the one it sent.
      if (asksForDpopNonce(answer.response, answer.json)) {
        answer = await send()
        dpop.rememberNonce(endpoint, answer.response)
      }
    }
    checkTokenEndpointAnswer(answer, PEER)
    const { response, json } = answer

    const parsed = successSchema.safeParse(json)
    if (!parsed.success) {
      throw new TokenExchangeError(
        'invalid_response',
        'the token endpoint answer is not a token exchange response',
        response.status,
      )
    }
    const data = parsed.data
    // RFC 8693 §2.2.1 and RFC 9449 §5: a bearer token unless we proved a key, then a DPoP one.
    const expectedTokenType = jkt === undefined ? 'bearer' : 'dpop'
    if (data.token_type.toLowerCase() !== expectedTokenType) {
      throw new TokenExchangeError(
        'invalid_response',
        `unexpected token_type ${data.token_type}`,
        response.status,
      )
    }
    if (data.issued_token_type !== ACCESS_TOKEN_TYPE && data.issued_token_type !== JWT_TOKEN_TYPE) {
      throw new TokenExchangeError(
        'invalid_response',
        `unexpected issued_token_type ${data.issued_token_type}`,
        response.status,
      )
    }
    const claims = decodeClaims(data.access_token)
    if (jkt !== undefined && (claims?.cnf as { jkt?: unknown } | undefined)?.jkt !== jkt) {
      throw new TokenExchangeError(
        'invalid_response',
        'the issued token is not bound to our DPoP key',
        response.status,
      )
    }
    const exp = typeof claims?.exp === 'number' ? claims.exp : undefined
    return {
      accessToken: data.access_token,
      issuedTokenType: data.issued_token_type,
      tokenType: data.token_type,
      // Without expires_in or exp the lifetime is unknown: treat as expiring now (never cached).
      expiresAt: data.expires_in !== undefined ? now() + data.expires_in : (exp ?? now()),
      // RFC 8693 §2.2.1: scope may be omitted when it equals the requested scope.
      scope: data.scope ?? params.scope,
      claims,
      exchange: { at: now(), durationMs: Math.round((performance.now() - started) * 10) / 10 },
      ...(jkt === undefined ? {} : { jkt }),
    }
  }

  return {
    async exchange(params) {
      if (!params.subjectToken) throw new TypeError('subjectToken is required')
      if (!params.audience && !params.resource) {
        throw new TypeError('audience or resource is required')
      }
      const started = performance.now()
      const elapsed = () => Math.round((performance.now() - started) * 10) / 10
      if (!options.cache) {
        const value = await requestExchange(params)
        return { ...value, fromCache: false, durationMs: elapsed() }
      }
      const key = ExchangedTokenCache.key(
        params.subjectToken,
        params.resource ? `${params.audience} ${params.resource}` : params.audience,
        params.actorToken
          ? `${params.scope ?? ''} actor:${digestOf(params.actorToken)}`
          : params.scope,
        options.dpop?.jkt,
      )
      const { value, source } = await options.cache.getOrProduce(key, () => requestExchange(params))
      return { ...value, fromCache: source === 'cache', durationMs: elapsed() }
    },
  }
}
