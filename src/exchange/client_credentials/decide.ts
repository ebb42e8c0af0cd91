/**
 * decide: the single decision point of client_credentials, a pure function of the engine's policy.
 * oidc-provider authenticates the client and signs the token; what the token may be for is decided
 * here, called from the IdP's `getResourceServerInfo` (and `defaultResource` when nothing is named).
 *
 * Order: the client may use the grant (`checkClientMayUseClientCredentials`, `unauthorized_client`,
 * run by the authenticate stage) → one target: the resource named, else the client's single allowed
 * audience (`invalid_target`) → that target is allowed for the client (`invalid_target`) → scopes:
 * the requested ones within target ∩ the client's ceiling, silently cut (as oidc-provider filters
 * requested scopes by the resource server's) → the IdP's access token lifetime.
 *
 * The token is the client's own (`sub` = `client_id`); it never names a user.
 *
 * @example
 * ```ts
 * const decision = decideClientCredentials({ request, client, policy })
 * ```
 */
import { InvalidTarget, UnauthorizedClient } from '../errors.js'
import type { TargetPolicy } from '../policy.js'
import type { AuthenticatedClient } from '../types.js'
import type { ClientCredentialsClientPolicy, ClientCredentialsPolicy } from './policy.js'
import type {
  ClientCredentialsClient,
  ClientCredentialsDecision,
  ClientCredentialsRequest,
} from './types.js'

export interface DecideClientCredentialsInput {
  readonly request: ClientCredentialsRequest
  readonly client: ClientCredentialsClient
  readonly policy: Pick<ClientCredentialsPolicy, 'targets' | 'lifetimeSeconds'>
}

export function decideClientCredentials(
  input: DecideClientCredentialsInput,
): ClientCredentialsDecision {
  const { request, client, policy } = input
  const { target, resource } = resolveServiceTarget(request.resource, policy, client.policy)
  if (!client.policy.allowedAudiences.includes(target.audience)) {
    throw new InvalidTarget({ detail: `target ${target.audience} is not allowed for the client` })
  }
  const ceiling = target.scopes.filter((scope) => client.policy.scopes.includes(scope))
  const scopes = (request.scopes ?? []).filter((scope) => ceiling.includes(scope))
  const decision = {
    clientId: client.clientId,
    audience: target.audience,
    resource,
    scopes: Object.freeze([...new Set(scopes)]),
    lifetimeSeconds: policy.lifetimeSeconds,
  }
  return Object.freeze(decision) as ClientCredentialsDecision
}

/** The client has a clientCredentials block and it is switched on; returns it with the client. */
export function checkClientMayUseClientCredentials(
  policy: Pick<ClientCredentialsPolicy, 'clients'>,
  client: AuthenticatedClient,
): ClientCredentialsClient {
  const block = policy.clients.get(client.clientId)
  if (block === undefined || !block.enabled) {
    throw new UnauthorizedClient({
      description: 'client is not allowed to use client_credentials',
      detail: 'client_credentials is off for the client',
    })
  }
  const authorized = { clientId: client.clientId, authMethod: client.authMethod, policy: block }
  return Object.freeze(authorized) as ClientCredentialsClient
}

/**
 * The resource indicator a service token goes to when the request names none: the first resource
 * URI of the client's single allowed audience; `undefined` when it has none or several.
 */
export function defaultServiceResource(
  policy: Pick<ClientCredentialsPolicy, 'targets'>,
  clientPolicy: Pick<ClientCredentialsClientPolicy, 'allowedAudiences'> | undefined,
): string | undefined {
  const [only, ...others] = clientPolicy?.allowedAudiences ?? []
  if (only === undefined || others.length > 0) return undefined
  return policy.targets.get(only)?.resourceUris[0]
}

function resolveServiceTarget(
  resource: string | undefined,
  policy: Pick<ClientCredentialsPolicy, 'targets'>,
  clientPolicy: ClientCredentialsClientPolicy,
): { target: TargetPolicy; resource: string } {
  const named = resource ?? defaultServiceResource(policy, clientPolicy)
  if (named === undefined) {
    throw new InvalidTarget({ detail: 'no target requested and the client has no single default' })
  }
  for (const target of policy.targets.values()) {
    if (target.resourceUris.includes(named)) return { target, resource: named }
  }
  throw new InvalidTarget({ detail: 'resource is not a configured target' })
}
