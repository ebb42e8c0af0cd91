/**
 * `onbehalf/resource`: what a resource server imports to accept RFC 9068 JWT access tokens —
 * delegated ones from an RFC 8693 exchange included — and to decide whose data a call is about.
 * Framework-free (node:http, Express, anything with `headers`); the Fastify plugin is
 * `onbehalf/resource/fastify`.
 *
 * - `createAccessTokenVerifier`: signature with the issuer's keys (pinned algorithms, JWKS cached),
 *   `typ: at+jwt`, `iss`, `aud`, times, the caller policy on `azp`/`client_id` and the outermost
 *   `act`, scopes; `requireActor` accepts delegated tokens only.
 * - `createBearerAuthenticator` / `bearerErrorResponse`: the RFC 6750 side of a request.
 * - `createTxnTokenVerifier` / `readTxnToken`: a transaction token in the `Txn-Token` header
 *   (draft-ietf-oauth-transaction-tokens-10 §12), beside or instead of a bearer token.
 * - `createIdentityPolicy`: who the caller acts for — the token's `sub`, or, only where explicitly
 *   allowed for a service's own token, an `X-User-Sub` header.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { bearerErrorResponse, createAccessTokenVerifier, createBearerAuthenticator } from 'onbehalf/resource'
 *
 * const verifier = createAccessTokenVerifier({
 *   issuer: 'http://localhost:9000',
 *   audience: 'app-b',
 *   jwksUri: 'http://localhost:9000/jwks',
 *   allowedCallers: ['app-a'],
 *   requireActor: true,
 * })
 * const authenticate = createBearerAuthenticator({ verifier })
 * createServer(async (request, response) => {
 *   try {
 *     const token = await authenticate(request)
 *     response.end(JSON.stringify({ user: token.sub, actingService: token.caller }))
 *   } catch (error) {
 *     const { statusCode, headers, body } = bearerErrorResponse(error, 'app-b')
 *     response.writeHead(statusCode, headers).end(JSON.stringify(body))
 *   }
 * }).listen(3994)
 * ```
 *
 * @module
 */
export {
  createAccessTokenVerifier,
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  type JwksCacheOptions,
  type KeyLookup,
  type KeyResolver,
  type VerifiedAccessToken,
} from './verifier.js'
export { MAX_TOKEN_LENGTH } from './signed_token.js'
export { createTrustedIssuersVerifier } from './trusted_issuers.js'
export { withIntrospection, type IntrospectionOptions } from './introspection.js'
export {
  bearerErrorResponse,
  createBearerAuthenticator,
  readBearerToken,
  readPresentedToken,
  type BearerAuthenticator,
  type DpopResourceOptions,
  type PresentedToken,
  type BearerAuthenticatorOptions,
  type BearerErrorResponse,
  type BearerRequest,
  type ChallengeOptions,
} from './bearer_request.js'
export {
  createProtectedResourceMetadata,
  PROTECTED_RESOURCE_WELL_KNOWN,
  protectedResourceMetadataUrl,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataDocument,
  type ProtectedResourceMetadataOptions,
} from './protected_resource_metadata.js'
export { createDpopReplayCache, DPOP_ALGORITHMS, type DpopReplayCache } from '../jwt/dpop_proof.js'
export { createDpopNonces, type DpopNonceOptions, type DpopNonces } from '../jwt/dpop_nonce.js'
export {
  createRedisDpopReplayCache,
  type RedisDpopReplayCacheOptions,
} from '../limits/redis_dpop_replay.js'
export {
  ResourceAuthError,
  type ResourceAuthErrorCode,
  type ResourceAuthErrorOptions,
} from './errors.js'
export {
  createIdentityPolicy,
  isServiceOwnToken,
  USER_HEADER,
  type IdentityDecision,
  type IdentityPolicy,
  type IdentityPolicyOptions,
  type IdentityRule,
} from './identity_policy.js'
export {
  createTxnTokenVerifier,
  readTxnToken,
  TXN_TOKEN_HEADER,
  TXN_TOKEN_TYP,
  txnTokenErrorResponse,
  type TxnTokenRequest,
  type TxnTokenVerifier,
  type TxnTokenVerifierOptions,
  type VerifiedTxnToken,
} from './txn_token.js'
