/**
 * `onbehalf/client`: what a service imports to call another service on behalf of its signed-in
 * user. `createTokenExchangeClient` trades the user's access token for one addressed to the target
 * service at any RFC 8693 token endpoint (the onbehalf IdP or STS, Keycloak 26.2+, authentik
 * 2026.8+), authenticating with `client_secret_basic`. With an `ExchangedTokenCache`, a token is
 * reused until shortly before it expires and concurrent requests for the same token share one
 * exchange; a request no instance answered is sent once more (`createRetryingFetch` does the same
 * for other calls, only where a repeat cannot double an effect). `createTxnTokenClient` requests transaction tokens (draft-ietf-oauth-transaction-
 * tokens-10) from a Txn-Token Service, and `txnTokenHeaders` forwards one in the `Txn-Token` header.
 *
 * @example
 * ```ts
 * import { createTokenExchangeClient, ExchangedTokenCache } from 'onbehalf/client'
 *
 * const exchanger = createTokenExchangeClient({
 *   tokenEndpoint: 'http://localhost:9000/token',
 *   clientId: 'app-a',
 *   clientSecret: process.env.APP_A_CLIENT_SECRET!,
 *   cache: new ExchangedTokenCache(),
 * })
 * const { accessToken } = await exchanger.exchange({ subjectToken, audience: 'app-b' })
 * await fetch('http://localhost:3994/api/todos', { headers: { authorization: `Bearer ${accessToken}` } })
 * ```
 *
 * @module
 */
export {
  ACCESS_TOKEN_TYPE,
  basicAuthorization,
  createTokenExchangeClient,
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT,
  TokenExchangeError,
  type ExchangeParams,
  type ExchangeResult,
  type TokenExchangeClient,
  type TokenExchangeClientOptions,
  type TokenExchangeErrorCode,
} from './token_exchange_client.js'
export { createRetryingFetch, type RetryingFetchOptions, type RetryReason } from './retry.js'
export { createDpopKey, fetchWithDpop, type DpopKey, type DpopProofRequest } from './dpop.js'
export {
  discoverProtectedResource,
  resourceMetadataUrlOf,
  ResourceDiscoveryError,
  type DiscoveredResource,
  type ResourceDiscoveryFailure,
} from './discover_resource.js'
export {
  ExchangedTokenCache,
  type CachedToken,
  type ExchangedTokenCacheOptions,
} from './exchanged_token_cache.js'
export {
  createTxnTokenClient,
  TXN_TOKEN_HEADER,
  TXN_TOKEN_TYPE,
  txnTokenHeaders,
  type TxnContextInput,
  type TxnTokenClient,
  type TxnTokenClientOptions,
  type TxnTokenReplaceParams,
  type TxnTokenRequestParams,
  type TxnTokenResult,
} from './txn_token_client.js'
