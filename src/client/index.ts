/** What App A imports to call another service on behalf of its signed-in user (RFC 8693). */
export {
  ACCESS_TOKEN_TYPE,
  basicAuthorization,
  createTokenExchangeClient,
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT,
  TokenExchangeError,
} from './token_exchange_client.js'
export type {
  ExchangeParams,
  ExchangeResult,
  TokenExchangeClient,
  TokenExchangeClientOptions,
  TokenExchangeErrorCode,
} from './token_exchange_client.js'
export { ExchangedTokenCache } from './exchanged_token_cache.js'
export type { CachedToken, ExchangedTokenCacheOptions } from './exchanged_token_cache.js'
