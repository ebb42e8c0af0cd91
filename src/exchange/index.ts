/**
 * `onbehalf/exchange`: the RFC 8693 token exchange engine, for services that embed it behind their
 * own token endpoint (the onbehalf IdP and STS both do). Framework-free: it takes the form
 * parameters and the authenticated client, and returns the RFC 8693 §2.2.1 body or throws a typed
 * `OAuthError` that `toErrorResponse` turns into the RFC 6749 §5.2 answer. Every token is decided
 * in one place (targets, scope ceiling, lifetime, delegation chain) and leaves one audit event.
 *
 * What it needs: a policy (`createExchangePolicy`), a JWS verifier over the trusted issuers' keys
 * (`createJwsVerifier`), a liveness check for subject tokens, a minter (`createJwsMinter` over
 * `createJwsSigner`) and an audit sink.
 *
 * @example
 * ```ts
 * import {
 *   createClientAuthenticator, createExchangePolicy, createJwsMinter, createJwsSigner,
 *   createJwsVerifier, createTokenExchange, NO_STORE_HEADERS, toErrorResponse,
 * } from 'onbehalf/exchange'
 *
 * const engine = createTokenExchange({
 *   policy: createExchangePolicy({
 *     issuer: 'https://sts.example',
 *     trustedIssuers: ['https://idp.example'],
 *     targets: { orders: { resourceUris: ['https://orders.example'], scopes: ['orders:read'] } },
 *     clients: { shop: { enabled: true, allowedAudiences: ['orders'], scopeCeiling: ['orders:read'] } },
 *   }),
 *   verifier: createJwsVerifier({ algorithms: ['ES256'], resolveKey: idpKeyFor }),
 *   subjectStatus: { isActive: async () => true },
 *   minter: createJwsMinter({ currentSigner: () => signer }), // signer: createJwsSigner({…})
 *   audit: (event) => logger.info({ audit: event }),
 * })
 * const clients = createClientAuthenticator(new Map([['shop', { clientId: 'shop', secret }]]))
 *
 * // in the token endpoint:
 * try {
 *   const client = clients.authenticate({ authorizationHeader: request.headers.authorization, body })
 *   reply.headers(NO_STORE_HEADERS).send(await engine.exchange({ params: body, client }))
 * } catch (error) {
 *   const { statusCode, headers, body } = toErrorResponse(error)
 *   reply.code(statusCode).headers(headers).send(body)
 * }
 * ```
 *
 * @module
 */
export {
  createTokenExchange,
  type TokenExchange,
  type TokenExchangeDeps,
} from './token_exchange/grant.js'
export {
  GRANT_TYPE_TOKEN_EXCHANGE,
  type ExchangeDecision,
  type ExchangeInput,
  type ExchangeResponse,
} from './token_exchange/types.js'
export {
  createExchangePolicy,
  type ClientExchangePolicy,
  type ClientExchangePolicyInput,
  type ExchangeMode,
  type ExchangePolicy,
  type ExchangePolicyInput,
  type TargetPolicy,
  type TargetPolicyInput,
} from './policy.js'
export {
  createTxnTokenGrant,
  type TxnTokenGrant,
  type TxnTokenGrantDeps,
} from './txn_token/grant.js'
export {
  createTxnTokenPolicy,
  txnTokenSettingsSchema,
  txnWorkloadPolicySchema,
  type TxnTokenPolicy,
  type TxnTokenPolicyInput,
  type TxnTokenSettingsInput,
  type TxnWorkloadPolicy,
  type TxnWorkloadPolicyInput,
} from './txn_token/policy.js'
export { isTxnTokenRequest } from './txn_token/parse_request.js'
export {
  TOKEN_TYPE_SELF_SIGNED,
  TOKEN_TYPE_TXN_TOKEN,
  TOKEN_TYPE_UNSIGNED_JSON,
  TXN_TOKEN_HEADER,
  type TxnTokenInput,
  type TxnTokenResponse,
} from './txn_token/types.js'
export {
  createClientAuthenticator,
  type ClientAuthenticationInput,
  type ClientAuthenticator,
  type ClientCredentialRecord,
} from './authenticate_client.js'
export {
  InvalidClient,
  InvalidDpopProof,
  InvalidGrant,
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  OAuthError,
  PayloadTooLarge,
  ServerError,
  TemporarilyUnavailable,
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
  createJwsMinter,
  type AccessTokenClaims,
  type JwsMinterOptions,
  type MintRequest,
  type TokenMinter,
  TXN_TOKEN_TYP,
  type TxnTokenClaims,
} from './mint.js'
export { NO_STORE_HEADERS } from './token_response.js'
export {
  createDpopReplayCache,
  DpopProofError,
  type DpopReplayCache,
  type VerifiedDpopProof,
} from '../jwt/dpop_proof.js'
export type { AuditEvent, AuditSink, TokenExchangeAuditEvent, TxnTokenAuditEvent } from './audit.js'
export type { TokenStatus } from './verify_access_token.js'
export { createGrantRunner, type GrantRunner, type GrantRunnerDeps } from './runner.js'
export type { Grant, GrantContext, GrantStages } from './grant.js'
export {
  TOKEN_TYPE,
  type ActClaim,
  type AuthenticatedClient,
  type ClientAuthMethod,
  type GrantParams,
  type MayActClaim,
  type TokenTypeUri,
} from './types.js'
export { createJwsSigner, type JwsSigner, type JwsSignerOptions } from '../jws/sign_jws.js'
export {
  createJwsVerifier,
  JwsVerificationError,
  type JwsFailureReason,
  type JwsVerifier,
  type JwsVerifierOptions,
  type KeyLookup,
  type KeyResolver,
} from '../jws/verify_jws.js'
