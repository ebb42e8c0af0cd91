/**
 * The stage outputs of the JWT federation grant, branded (`Stage`) like the exchange's: decide
 * accepts only a target the authenticate stage found and an assertion the validate stage verified.
 */
import type { GrantParams, Stage, VerifiedToken } from '../types.js'
import type { ClientFederationPolicy } from './policy.js'

export const GRANT_TYPE_CLIENT_CREDENTIALS = 'client_credentials'
export const CLIENT_ASSERTION_TYPE_JWT_BEARER =
  'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** The fixed public text of every assertion or policy fault. */
export const ASSERTION_INVALID = 'client_assertion is invalid or not trusted for this client'

/** parse: syntactically valid, nothing verified. */
export type FederationRequest = Stage<
  {
    readonly clientId: string
    readonly assertion: string
    /** `undefined` when the request named no scope. */
    readonly scopes: readonly string[] | undefined
  },
  'federation_request'
>

/**
 * authenticate: the client named by `client_id` is a configured client, with its federation
 * policy. Not authenticated: the request carries no secret, holding the assertion is all it proves.
 */
export type FederationTarget = Stage<ClientFederationPolicy, 'federation_target'>

/** validate: the assertion, checked exactly like an RFC 8693 subject token. */
export type VerifiedAssertion = Stage<VerifiedToken, 'verified_assertion'>

export interface VerifiedFederation {
  readonly request: FederationRequest
  readonly target: FederationTarget
  readonly assertion: VerifiedAssertion
}

/** decide: what the claims builder needs, frozen. */
export type FederationDecision = Stage<
  {
    /** The target client: `aud`, `azp` and `client_id` of the new token. */
    readonly clientId: string
    /** The client the assertion was issued to (trusted by the target's policy). */
    readonly assertionClientId: string
    readonly sub: string
    readonly subjectKind: 'user' | 'service-account'
    readonly scopes: readonly string[]
    readonly iat: number
    readonly exp: number
    readonly assertionJti: string
  },
  'federation_decision'
>

/** respond: no refresh token, no `issued_token_type` (this is not RFC 8693). */
export interface FederationResponse {
  readonly access_token: string
  readonly token_type: 'Bearer'
  readonly expires_in: number
  readonly scope?: string
}

export type FederationParams = GrantParams
