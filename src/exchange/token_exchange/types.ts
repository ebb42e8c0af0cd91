/**
 * The stage outputs of the RFC 8693 grant, in the order the runner produces them. Each is branded
 * (`Stage`), so the stage after it accepts only what the stage before it returned.
 */
import type { VerifiedDpopProof } from '../../jwt/dpop_proof.js'
import type { ClientExchangePolicy, ExchangeMode } from '../policy.js'
import type {
  AcceptedTokenType,
  ActClaim,
  AuthenticatedClient,
  GrantParams,
  Stage,
  VerifiedToken,
} from '../types.js'

export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'

/** What the HTTP edge hands the grant: the form fields and the client it authenticated. */
export interface ExchangeInput {
  readonly params: GrantParams
  readonly client: AuthenticatedClient
  /** The request's `DPoP` headers (RFC 9449), when the edge supports sender-constrained tokens. */
  readonly dpop?: DpopInput
}

/** The DPoP side of a token request, as the HTTP edge received it. */
export interface DpopInput {
  /** Every `DPoP` header value received (more than one is refused). */
  readonly headers: readonly string[]
  /** The request method (`POST`). */
  readonly htm: string
  /** The token endpoint's URI as clients reach it (what `htu` must name). */
  readonly htu: string
}

/** The DPoP proof of a request, read but not verified. */
export interface DpopRequest {
  readonly proof: string
  readonly htm: string
  readonly htu: string
}

/** parse: syntactically valid, nothing verified yet. */
export type ExchangeRequest = Stage<
  {
    readonly grantType: typeof GRANT_TYPE_TOKEN_EXCHANGE
    readonly resources: readonly string[]
    readonly audiences: readonly string[]
    /** `undefined` when the request named no scope. */
    readonly scopes: readonly string[] | undefined
    readonly requestedTokenType: AcceptedTokenType
    readonly subjectToken: string
    readonly subjectTokenType: AcceptedTokenType
    readonly actorToken: string | undefined
    readonly actorTokenType: AcceptedTokenType | undefined
    /** The one `DPoP` proof sent (unverified) with the method and URI it must name; or none. */
    readonly dpop?: DpopRequest | undefined
  },
  'exchange_request'
>

/** authenticate: a confidential client whose exchange policy is on, with that policy. */
export type ExchangeClient = Stage<
  AuthenticatedClient & { readonly policy: ClientExchangePolicy },
  'exchange_client'
>

/** validate: the subject token, verified. */
export type VerifiedSubject = Stage<VerifiedToken, 'verified_subject'>

/** validate: the actor token, verified and shown to be the requester. */
export type VerifiedActor = Stage<VerifiedToken, 'verified_actor'>

/** validate, as a whole: everything decide needs. */
export interface VerifiedExchange {
  readonly request: ExchangeRequest
  readonly client: ExchangeClient
  readonly subject: VerifiedSubject
  readonly actor: VerifiedActor | undefined
  /** The DPoP proof, verified for this request (method, URI, time, first use). */
  readonly proof: VerifiedProof | undefined
}

/** validate: the DPoP proof, verified. */
export type VerifiedProof = Stage<VerifiedDpopProof, 'verified_dpop_proof'>

/** decide: everything the claims builder needs, frozen. */
export type ExchangeDecision = Stage<
  {
    readonly mode: ExchangeMode
    /** The user (or service) on whose behalf the new token acts. */
    readonly sub: string
    /** The one target audience of the new token. */
    readonly audience: string
    /** The requester: becomes `client_id` and `azp`. */
    readonly clientId: string
    readonly scopes: readonly string[]
    /** Delegation: the new chain with the requester outermost; impersonation: the subject's chain. */
    readonly act: ActClaim | undefined
    readonly iat: number
    readonly exp: number
    readonly issuedTokenType: AcceptedTokenType
    readonly subjectJti: string
    readonly actorJti: string | undefined
    /** RFC 9449: the key the issued token is bound to (`cnf.jkt`); `undefined`: a bearer token. */
    readonly jkt?: string | undefined
  },
  'exchange_decision'
>

/** respond: the RFC 8693 §2.2.1 success body. No refresh token is ever issued (lesson S16). */
export interface ExchangeResponse {
  readonly access_token: string
  readonly issued_token_type: AcceptedTokenType
  /** `DPoP` when the issued token is bound to the requester's key (RFC 9449 §5). */
  readonly token_type: 'Bearer' | 'DPoP'
  readonly expires_in: number
  readonly scope: string
}
