/**
 * Reads what the planner needs from a realm, GETs only: the two clients (with their protocol
 * mappers), the realm's client scopes and the requester's default and optional scopes.
 */
import type { KeycloakAdmin } from '../admin_client.js'
import {
  DEFAULT_TARGET,
  KeycloakSetupError,
  type ClientRepresentation,
  type ClientScopeRepresentation,
  type KeycloakRealmState,
  type KeycloakSetupTarget,
  type ScopeRef,
} from './representations.js'

async function getJson<T>(admin: KeycloakAdmin, path: string): Promise<T> {
  const response = await admin.send('GET', path)
  if (response.status === 404)
    throw new KeycloakSetupError(`${path}: not found (is the realm imported?)`)
  if (response.status !== 200)
    throw new KeycloakSetupError(`GET ${path}: ${response.status} ${JSON.stringify(response.body)}`)
  return response.body as T
}

export async function readKeycloakState(
  admin: KeycloakAdmin,
  target: KeycloakSetupTarget = DEFAULT_TARGET,
): Promise<KeycloakRealmState> {
  const base = `/admin/realms/${encodeURIComponent(target.realm)}`
  const findClient = async (clientId: string) =>
    (
      await getJson<ClientRepresentation[]>(
        admin,
        `${base}/clients?clientId=${encodeURIComponent(clientId)}`,
      )
    ).find((client) => client.clientId === clientId)
  const requester = await findClient(target.requesterClientId)
  const audience = await findClient(target.audienceClientId)
  const clientScopes = await getJson<ClientScopeRepresentation[]>(admin, `${base}/client-scopes`)
  const scopesOf = async (kind: 'default' | 'optional') =>
    requester
      ? await getJson<ScopeRef[]>(
          admin,
          `${base}/clients/${encodeURIComponent(requester.id)}/${kind}-client-scopes`,
        )
      : []
  return {
    requester,
    audience,
    clientScopes,
    requesterDefaultScopes: await scopesOf('default'),
    requesterOptionalScopes: await scopesOf('optional'),
  }
}
