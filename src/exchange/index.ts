/**
 * onbehalf's RFC 8693 token exchange engine: flat named re-exports. Start at `createTokenExchange`.
 */
export type { AuditEvent, AuditSink } from './audit.js'
export {
  createClientAuthenticator,
  type ClientAuthenticationInput,
  type ClientAuthenticator,
  type ClientCredentialRecord,
} from './authenticate_client.js'
export {
  buildDelegationChain,
  chainDepth,
  checkChainCycles,
  checkChainDepth,
  checkClientMayExchange,
  checkSubjectAddressedTo,
  checkTargetAllowed,
  decideExchange,
  decideScopes,
  resolveTarget,
  type DecideInput,
} from './decide.js'
export {
  ACTOR_TOKEN_INVALID,
  InvalidClient,
  InvalidGrant,
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  OAuthError,
  PayloadTooLarge,
  ServerError,
  SUBJECT_TOKEN_INVALID,
  toErrorResponse,
  TooManyRequests,
  UnauthorizedClient,
  UnsupportedGrantType,
  type AnyOAuthError,
  type ErrorResponse,
  type OAuthErrorCode,
  type OAuthErrorOptions,
} from './errors.js'
export {
  createTokenExchange,
  type ExchangeInput,
  type TokenExchange,
  type TokenExchangeDeps,
} from './exchange.js'
export {
  createIssuerProfile,
  DEFAULT_ISSUER_PROFILE,
  issuerProfileFor,
  issuerProfileSchema,
  NOT_ACCESS_TOKEN_CLAIMS,
  upstreamClientIdsOf,
  type IssuerProfile,
  type IssuerProfileInput,
} from './issuer_profile.js'
export { createJwsSigner, type JwsSigner, type JwsSignerOptions } from '../jws/sign_jws.js'
export {
  createJwsVerifier,
  JwsVerificationError,
  type JwsFailureReason,
  type JwsHeader,
  type JwsVerifier,
  type JwsVerifierOptions,
  type KeyLookup,
  type KeyResolver,
  type VerifiedJws,
} from '../jws/verify_jws.js'
export {
  ACCESS_TOKEN_HEADER,
  buildAccessTokenClaims,
  createJwsMinter,
  type AccessTokenClaims,
  type TokenMinter,
} from './mint.js'
export { checkResourceUri, checkTokenTypeSupported, parseExchangeRequest } from './parse_request.js'
export {
  clientExchangePolicySchema,
  createExchangePolicy,
  exchangePolicyInputSchema,
  exchangeSettingsSchema,
  requestLimitsSchema,
  targetPolicySchema,
  type ClientExchangePolicy,
  type ClientExchangePolicyInput,
  type ExchangePolicy,
  type ExchangePolicyInput,
  type TargetPolicy,
  type TargetPolicyInput,
} from './policy.js'
export { buildExchangeResponse, NO_STORE_HEADERS } from './respond.js'
export {
  DEFAULT_REQUEST_LIMITS,
  GRANT_TYPE_TOKEN_EXCHANGE,
  TOKEN_TYPE,
  type AcceptedTokenType,
  type ActClaim,
  type AuthenticatedClient,
  type ClientAuthMethod,
  type ExchangeDecision,
  type ExchangeMode,
  type ExchangeParams,
  type ExchangeRequest,
  type ExchangeResponse,
  type JwtClaims,
  type MayActClaim,
  type RequestLimits,
  type TokenTypeUri,
  type VerifiedActor,
  type VerifiedSubject,
  type VerifiedToken,
} from './types.js'
export { checkActorIsClient, checkMayAct, validateActorToken } from './validate_actor.js'
export { validateSubjectToken } from './validate_subject.js'
export {
  tokenInvalid,
  verifyAccessToken,
  type TokenRole,
  type TokenStatus,
  type TokenValidationDeps,
} from './verify_access_token.js'
