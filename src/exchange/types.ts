/**
 * Shared constants and the data types that flow between the stages of the exchange engine
 * (RFC 8693). Each stage takes the previous stage's output type, so a skipped stage does not compile.
 */

/** RFC 8693 §3 token type identifiers. */
export const TOKEN_TYPE = Object.freeze({
  ACCESS_TOKEN: 'urn:ietf:params:oauth:token-type:access_token',
  REFRESH_TOKEN: 'urn:ietf:params:oauth:token-type:refresh_token',
  ID_TOKEN: 'urn:ietf:params:oauth:token-type:id_token',
  JWT: 'urn:ietf:params:oauth:token-type:jwt',
  SAML1: 'urn:ietf:params:oauth:token-type:saml1',
  SAML2: 'urn:ietf:params:oauth:token-type:saml2',
} as const)

export type TokenTypeUri = (typeof TOKEN_TYPE)[keyof typeof TOKEN_TYPE]

/** The token types onbehalf accepts as subject/actor and may issue: a JWT access token is both. */
export type AcceptedTokenType = typeof TOKEN_TYPE.ACCESS_TOKEN | typeof TOKEN_TYPE.JWT

export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'

/** Raw form parameters: a repeated field arrives as an array. */
export type ExchangeParams = Readonly<Record<string, string | readonly string[] | undefined>>

export interface RequestLimits {
  /** Longest subject_token / actor_token accepted, in characters (lesson S4, S14). */
  readonly maxTokenLength: number
  /** Longest value of any other parameter, in characters. */
  readonly maxParameterLength: number
  /** Most `audience` values, and separately most `resource` values, in one request. */
  readonly maxAudiences: number
  /** Most scope tokens in `scope`. */
  readonly maxScopes: number
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = Object.freeze({
  maxTokenLength: 8192,
  maxParameterLength: 1024,
  maxAudiences: 5,
  maxScopes: 20,
})

/** Output of `parseExchangeRequest`: syntactically valid, nothing verified yet. */
export interface ExchangeRequest {
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
}

export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'client_secret_jwt'
  | 'tls_client_auth'

/** A confidential client whose authentication already succeeded (public clients never get here). */
export interface AuthenticatedClient {
  readonly clientId: string
  readonly authMethod: ClientAuthMethod
}

/** RFC 8693 §4.1: the acting party; a nested `act` records the prior actor. */
export interface ActClaim {
  readonly sub: string
  readonly iss?: string
  readonly act?: ActClaim
}

/** RFC 8693 §4.4: who may act for the token's subject. */
export interface MayActClaim {
  readonly sub?: string
  readonly iss?: string
}

export type JwtClaims = Readonly<Record<string, unknown>>

/** A JWT access token (RFC 9068) whose signature, type, claims, times and status were checked. */
export interface VerifiedToken {
  /** The verified claims set, for policy hooks; never logged. */
  readonly token: JwtClaims
  readonly sub: string
  readonly iss: string
  readonly aud: readonly string[]
  readonly clientId: string
  readonly azp: string | undefined
  readonly scopes: readonly string[]
  readonly exp: number
  readonly jti: string
  readonly act: ActClaim | undefined
  readonly mayAct: MayActClaim | undefined
}

export type VerifiedSubject = VerifiedToken
export type VerifiedActor = VerifiedToken

export type ExchangeMode = 'delegation' | 'impersonation'

/** The single decision (output of `decideExchange`): everything the minter needs, frozen. */
export interface ExchangeDecision {
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
}

/** RFC 8693 §2.2.1 success body. No refresh token is ever issued by exchange (lesson S16). */
export interface ExchangeResponse {
  readonly access_token: string
  readonly issued_token_type: AcceptedTokenType
  readonly token_type: 'Bearer'
  readonly expires_in: number
  readonly scope: string
}
