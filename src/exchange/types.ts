/**
 * Constants and data types shared by every grant of the engine. Each grant's own stage types live
 * in its folder (`token_exchange/types.ts`, …).
 */
import type { ActClaim } from '../jwt/act_claim.js'

export type { ActClaim } from '../jwt/act_claim.js'

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

/** Raw form parameters of a token request: a repeated field arrives as an array. */
export type GrantParams = Readonly<Record<string, string | readonly string[] | undefined>>

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

export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'client_secret_jwt'
  | 'tls_client_auth'

/**
 * A client as the HTTP edge authenticated it (the STS's authenticator, oidc-provider's client
 * authentication). The engine's authenticate stage still checks it is a confidential client.
 */
export interface AuthenticatedClient {
  readonly clientId: string
  readonly authMethod: ClientAuthMethod
}

/** RFC 8693 §4.4: who may act for the token's subject. */
export interface MayActClaim {
  readonly sub: string
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
  /**
   * RFC 9449 §6 `cnf.jkt`: the key the token is bound to. `undefined` when unbound; `null` when it
   * carries a confirmation the engine cannot check (such a token is never exchanged).
   */
  readonly jkt?: string | null | undefined
}

declare const stage: unique symbol

/**
 * A value only its stage produces: `Stage<VerifiedToken, 'subject'>` comes out of
 * `validateSubjectToken` and nowhere else, so a stage that takes it cannot be reached by skipping
 * the one before. Type-level only: the producing stage casts once, nothing exists at run time.
 */
export type Stage<T, Name extends string> = T & { readonly [stage]: Name }
