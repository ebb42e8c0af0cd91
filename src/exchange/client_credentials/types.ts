/**
 * The stage outputs of the client_credentials grant, branded (`Stage`) like the other grants'.
 */
import type { AuthenticatedClient, GrantParams, Stage } from '../types.js'
import type { ClientCredentialsClientPolicy } from './policy.js'

export const GRANT_TYPE_CLIENT_CREDENTIALS = 'client_credentials'

/**
 * What the IdP hands the grant: oidc-provider's parameters (`resource` already defaulted, `scope`
 * already checked for characters) and the client it authenticated.
 */
export interface ClientCredentialsInput {
  readonly params: GrantParams
  readonly client: AuthenticatedClient
}

/** parse: the one resource indicator, if any, and the requested scopes. */
export type ClientCredentialsRequest = Stage<
  {
    readonly resource: string | undefined
    /** `undefined` when the request named no scope. */
    readonly scopes: readonly string[] | undefined
  },
  'client_credentials_request'
>

/** authenticate: a confidential client whose clientCredentials block is on, with that block. */
export type ClientCredentialsClient = Stage<
  AuthenticatedClient & { readonly policy: ClientCredentialsClientPolicy },
  'client_credentials_client'
>

export interface VerifiedClientCredentials {
  readonly request: ClientCredentialsRequest
  readonly client: ClientCredentialsClient
}

/** decide: the service token the IdP may issue; oidc-provider signs it. */
export type ClientCredentialsDecision = Stage<
  {
    /** `sub` = `client_id` = the requester: the token is the service's own, never a user's. */
    readonly clientId: string
    readonly audience: string
    /** The resource indicator the token is for (oidc-provider's resource server). */
    readonly resource: string
    readonly scopes: readonly string[]
    readonly lifetimeSeconds: number
  },
  'client_credentials_decision'
>
