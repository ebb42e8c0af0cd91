/**
 * The stage outputs of the RFC 8693 grant, in the order the runner produces them. Each is branded
 * (`Stage`), so the stage after it accepts only what the stage before it returned.
 */
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
}

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
  },
  'exchange_decision'
>

/** respond: the RFC 8693 §2.2.1 success body. No refresh token is ever issued (lesson S16). */
export interface ExchangeResponse {
  readonly access_token: string
  readonly issued_token_type: AcceptedTokenType
  readonly token_type: 'Bearer'
  readonly expires_in: number
  readonly scope: string
}
