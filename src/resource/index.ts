/**
 * The resource-server kit: verify RFC 9068 JWT access tokens (delegated ones from RFC 8693
 * included) and guard Fastify routes with them. App B and later services import from here.
 */
export {
  createAccessTokenVerifier,
  MAX_TOKEN_LENGTH,
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  type JwksCacheOptions,
  type KeyLookup,
  type KeyResolver,
  type VerifiedAccessToken,
} from './verifier.js'
export { checkRegisteredClaims, type RegisteredClaimOptions } from './jwt_claims.js'
export {
  ResourceAuthError,
  fromJoseError,
  fromJwsError,
  isTokenFault,
  type ResourceAuthErrorCode,
  type ResourceAuthErrorOptions,
} from './errors.js'
export { checkCallerAllowed, checkScopes, parseActorChain, parseScopes } from './checks.js'
export { MAX_ACT_NESTING } from '../jwt/act_claim.js'
export {
  bearerAuth,
  buildChallenge,
  readBearerToken,
  requireBearer,
  sendAuthError,
  type BearerAuthPluginOptions,
  type BearerHook,
  type RequireBearerOptions,
} from './bearer_auth.js'
export { redactUrlTokens, requestLogSerializer } from '../log/request_serializer.js'
export { registerServiceAudit, type ServiceAuditOptions } from './service_audit.js'
export {
  createIdentityPolicy,
  isServiceOwnToken,
  USER_HEADER,
  type IdentityDecision,
  type IdentityPolicy,
  type IdentityPolicyOptions,
  type IdentityRule,
} from './identity_policy.js'
export { createTrustedIssuersVerifier } from './trusted_issuers.js'
