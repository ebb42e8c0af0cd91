/**
 * onbehalf's token engine: flat named re-exports. Start at `createTokenExchange` (RFC 8693 under
 * its own audited runner), or at `createGrantRunner` with the grants of `token_exchange/`,
 * `jwt_federation/` and `client_credentials/`.
 */
export type {
  AuditEvent,
  AuditSink,
  ClientCredentialsAuditEvent,
  JwtFederationAuditEvent,
  TokenExchangeAuditEvent,
} from './audit.js'
export {
  checkConfidentialClient,
  createClientAuthenticator,
  type ClientAuthenticationInput,
  type ClientAuthenticator,
  type ClientCredentialRecord,
} from './authenticate_client.js'
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
export type { AuditNote, Grant, GrantContext, GrantStages } from './grant.js'
export { createGrantRunner, type GrantRunner, type GrantRunnerDeps } from './runner.js'
export {
  ACCESS_TOKEN_TYP,
  createJwsMinter,
  type AccessTokenClaims,
  type JwsMinterOptions,
  type MintRequest,
  type TokenMinter,
} from './mint.js'
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
  clientExchangePolicySchema,
  createExchangePolicy,
  exchangePolicyInputSchema,
  exchangeSettingsSchema,
  requestLimitsSchema,
  targetPolicySchema,
  type ClientExchangePolicy,
  type ClientExchangePolicyInput,
  type ExchangeMode,
  type ExchangePolicy,
  type ExchangePolicyInput,
  type TargetPolicy,
  type TargetPolicyInput,
} from './policy.js'
export { NO_STORE_HEADERS } from './token_response.js'
export {
  DEFAULT_REQUEST_LIMITS,
  TOKEN_TYPE,
  type AcceptedTokenType,
  type ActClaim,
  type AuthenticatedClient,
  type ClientAuthMethod,
  type GrantParams,
  type JwtClaims,
  type MayActClaim,
  type RequestLimits,
  type Stage,
  type TokenTypeUri,
  type VerifiedToken,
} from './types.js'
export {
  tokenInvalid,
  verifyAccessToken,
  type TokenRole,
  type TokenStatus,
  type TokenValidationDeps,
} from './verify_access_token.js'

// RFC 8693 token exchange.
export { buildExchangeClaims } from './token_exchange/claims.js'
export {
  buildDelegationChain,
  chainDepth,
  checkChainCycles,
  checkChainDepth,
  checkClientMayExchange,
  checkSubjectAddressedTo,
  checkTargetAllowed,
  decideExchange,
  decideExpiry,
  decideScopes,
  resolveTarget,
  type DecideInput,
} from './token_exchange/decide.js'
export {
  createTokenExchange,
  createTokenExchangeGrant,
  type TokenExchange,
  type TokenExchangeDeps,
  type TokenExchangeGrant,
  type TokenExchangeGrantDeps,
} from './token_exchange/grant.js'
export {
  checkResourceUri,
  checkTokenTypeSupported,
  parseExchangeRequest,
} from './token_exchange/parse_request.js'
export { buildExchangeResponse } from './token_exchange/respond.js'
export {
  GRANT_TYPE_TOKEN_EXCHANGE,
  type ExchangeClient,
  type ExchangeDecision,
  type ExchangeInput,
  type ExchangeRequest,
  type ExchangeResponse,
  type VerifiedActor,
  type VerifiedExchange,
  type VerifiedSubject,
} from './token_exchange/types.js'
export {
  checkActorIsClient,
  checkMayAct,
  validateActorToken,
} from './token_exchange/validate_actor.js'
export { validateSubjectToken } from './token_exchange/validate_subject.js'

// The authentik-style JWT federation re-issue.
export {
  createJwtFederationGrant,
  type JwtFederationGrant,
  type JwtFederationGrantDeps,
} from './jwt_federation/grant.js'
export {
  clientFederationPolicySchema,
  createFederationPolicy,
  type ClientFederationPolicy,
  type ClientFederationPolicyInput,
  type FederationPolicy,
} from './jwt_federation/policy.js'
export { isFederationRequest } from './jwt_federation/parse_request.js'

// client_credentials.
export {
  createClientCredentialsGrant,
  parseClientCredentialsRequest,
  type ClientCredentialsGrant,
} from './client_credentials/grant.js'
export {
  checkClientMayUseClientCredentials,
  decideClientCredentials,
  defaultServiceResource,
} from './client_credentials/decide.js'
export {
  clientCredentialsPolicySchema,
  createClientCredentialsPolicy,
  type ClientCredentialsClientPolicy,
  type ClientCredentialsPolicy,
  type ClientCredentialsPolicyInput,
} from './client_credentials/policy.js'
export type {
  ClientCredentialsDecision,
  ClientCredentialsInput,
} from './client_credentials/types.js'
