/**
 * The pure half of `onbehalf setup keycloak`: from the realm state read over the Admin REST API to
 * the writes that make it ready for standard token exchange (V2, Keycloak 26.2+). No I/O, so the
 * requests it would send can be listed and checked without a server.
 *
 * What it ensures:
 * - an optional client scope `app-b-audience` holding an `oidc-audience-mapper` that puts `app-b`
 *   into access tokens (Keycloak's exchange only narrows to audiences the requester's scopes
 *   produce; `audience=app-b` never adds one), and a `todos:read` scope App B's API requires;
 * - both scopes assigned to app-a (as optional scopes, so app-a's login token stays addressed to
 *   app-a and only an exchange asking for them gets app-b);
 * - on app-a: `standard.token.exchange.enabled=true`, lightweight access tokens off (they drop the
 *   claims App B reads), and the two RFC 9068 shapes App B checks that Keycloak 26.7.3 does not
 *   issue by default: the `typ: at+jwt` header (client attribute) and a `client_id` claim
 *   (a hardcoded-claim mapper on the client; Keycloak puts `client_id` only into service-account
 *   tokens).
 *
 * @example
 * const plan = planKeycloakSetup(await readKeycloakState(admin, target), target)
 * plan.length === 0 // already set up
 */
import {
  DEFAULT_TARGET,
  KeycloakSetupError,
  LIGHTWEIGHT_ACCESS_TOKEN_ATTRIBUTE,
  RFC9068_HEADER_TYPE_ATTRIBUTE,
  STANDARD_TOKEN_EXCHANGE_ATTRIBUTE,
  audienceScopeName,
  type AdminRequest,
  type ClientRepresentation,
  type ClientScopeRepresentation,
  type KeycloakRealmState,
  type KeycloakSetupTarget,
  type ProtocolMapperRepresentation,
} from './representations.js'

interface DesiredScope {
  readonly representation: ClientScopeRepresentation
  readonly mappers: readonly ProtocolMapperRepresentation[]
}

/** The client scopes the realm must hold for `target`. */
export function desiredClientScopes(target: KeycloakSetupTarget): DesiredScope[] {
  const attributes = { 'include.in.token.scope': 'true', 'display.on.consent.screen': 'false' }
  const audienceScope: DesiredScope = {
    representation: {
      name: audienceScopeName(target.audienceClientId),
      description: `Adds ${target.audienceClientId} to the access token audience (token exchange)`,
      protocol: 'openid-connect',
      attributes,
    },
    mappers: [
      {
        name: `${target.audienceClientId} audience`,
        protocol: 'openid-connect',
        protocolMapper: 'oidc-audience-mapper',
        consentRequired: false,
        config: {
          'included.client.audience': target.audienceClientId,
          'id.token.claim': 'false',
          'access.token.claim': 'true',
          'introspection.token.claim': 'true',
        },
      },
    ],
  }
  const extra = target.extraScopes.map((name) => ({
    representation: {
      name,
      description: `${name} (onbehalf)`,
      protocol: 'openid-connect',
      attributes,
    },
    mappers: [],
  }))
  return [audienceScope, ...extra]
}

/** The `client_id` claim (RFC 9068 §2.2) for tokens issued to `clientId`. */
export function clientIdClaimMapper(clientId: string): ProtocolMapperRepresentation {
  return {
    name: 'client_id (RFC 9068)',
    protocol: 'openid-connect',
    protocolMapper: 'oidc-hardcoded-claim-mapper',
    consentRequired: false,
    config: {
      'claim.name': 'client_id',
      'claim.value': clientId,
      'jsonType.label': 'String',
      'access.token.claim': 'true',
      'id.token.claim': 'false',
      'userinfo.token.claim': 'false',
      'introspection.token.claim': 'true',
    },
  }
}

/**
 * `sub` = `client_id` in service-account tokens (client_credentials). Keycloak 26.7.3 puts the
 * service-account user's id into `sub`; RFC 9068 §2.2 says `sub` SHOULD identify the client then,
 * and App B's "M2M + header" rule recognises a service's own token by `sub` = `client_id`. The
 * session note `client_id` exists only in service-account sessions, so user tokens keep their sub.
 */
export function serviceAccountSubMapper(): ProtocolMapperRepresentation {
  return {
    name: 'sub = client_id (service account)',
    protocol: 'openid-connect',
    protocolMapper: 'oidc-usersessionmodel-note-mapper',
    consentRequired: false,
    config: {
      'user.session.note': 'client_id',
      'claim.name': 'sub',
      'jsonType.label': 'String',
      'access.token.claim': 'true',
      'id.token.claim': 'false',
      'introspection.token.claim': 'true',
    },
  }
}

const realmPath = (realm: string) => `/admin/realms/${encodeURIComponent(realm)}`
const ref = (name: string) => `{{${name}}}`

function mapperSatisfies(
  existing: ProtocolMapperRepresentation,
  desired: ProtocolMapperRepresentation,
): boolean {
  return (
    existing.protocolMapper === desired.protocolMapper &&
    Object.entries(desired.config).every(([key, value]) => existing.config?.[key] === value)
  )
}

/** Refuses what a script must not fix by itself (missing or public clients, a disabled audience). */
function assertClients(
  state: KeycloakRealmState,
  target: KeycloakSetupTarget,
): { requester: ClientRepresentation; audience: ClientRepresentation } {
  const { requester, audience } = state
  if (!requester) {
    throw new KeycloakSetupError(
      `client ${target.requesterClientId} not found in realm ${target.realm}: import deploy/keycloak/realm-onbehalf.json first`,
    )
  }
  if (!audience) {
    throw new KeycloakSetupError(
      `client ${target.audienceClientId} not found in realm ${target.realm}: the audience client must exist`,
    )
  }
  if (requester.publicClient) {
    // Keycloak: "Public client is not allowed to exchange token" (400 invalid_client).
    throw new KeycloakSetupError(
      `client ${target.requesterClientId} is public: token exchange needs a confidential client (Client authentication on)`,
    )
  }
  if (audience.enabled === false) {
    throw new KeycloakSetupError(`client ${target.audienceClientId} is disabled: enable it`)
  }
  return { requester, audience }
}

/** Creates, fixes and assigns one desired client scope. */
function planScope(
  desired: DesiredScope,
  state: KeycloakRealmState,
  target: KeycloakSetupTarget,
  requester: ClientRepresentation,
  attached: ReadonlySet<string>,
): AdminRequest[] {
  const base = realmPath(target.realm)
  const steps: AdminRequest[] = []
  const name = desired.representation.name
  const existing = state.clientScopes.find((scope) => scope.name === name)
  let scopeId: string
  if (!existing) {
    scopeId = ref(`client-scope:${name}`)
    steps.push({
      method: 'POST',
      path: `${base}/client-scopes`,
      body: desired.representation,
      captureIdAs: `client-scope:${name}`,
      reason: `create client scope ${name}`,
    })
  } else {
    scopeId = existing.id!
    const attributes = existing.attributes ?? {}
    const missing = Object.entries(desired.representation.attributes ?? {}).filter(
      ([k, v]) => attributes[k] !== v,
    )
    if (missing.length > 0 || existing.protocol !== 'openid-connect') {
      const { protocolMappers: _mappers, ...rest } = existing
      steps.push({
        method: 'PUT',
        path: `${base}/client-scopes/${encodeURIComponent(scopeId)}`,
        body: {
          ...rest,
          protocol: 'openid-connect',
          attributes: { ...attributes, ...Object.fromEntries(missing) },
        },
        reason: `update client scope ${name} (${missing.map(([k]) => k).join(', ') || 'protocol'})`,
      })
    }
  }
  const idInPath = existing ? encodeURIComponent(scopeId) : scopeId
  for (const mapper of desired.mappers) {
    const present = existing?.protocolMappers ?? []
    if (present.some((candidate) => mapperSatisfies(candidate, mapper))) continue
    const sameName = present.find((candidate) => candidate.name === mapper.name)
    if (sameName?.id && sameName.protocolMapper === mapper.protocolMapper) {
      steps.push({
        method: 'PUT',
        path: `${base}/client-scopes/${idInPath}/protocol-mappers/models/${encodeURIComponent(sameName.id)}`,
        body: { ...sameName, config: { ...sameName.config, ...mapper.config } },
        reason: `fix mapper "${mapper.name}" in ${name}`,
      })
    } else {
      steps.push({
        method: 'POST',
        path: `${base}/client-scopes/${idInPath}/protocol-mappers/models`,
        body: sameName ? { ...mapper, name: `${mapper.name} (onbehalf)` } : mapper,
        reason: `add ${mapper.protocolMapper} to ${name}`,
      })
    }
  }
  if (!attached.has(name)) {
    steps.push({
      method: 'PUT',
      path: `${base}/clients/${encodeURIComponent(requester.id)}/optional-client-scopes/${idInPath}`,
      reason: `assign ${name} to ${target.requesterClientId} as an optional client scope`,
    })
  }
  return steps
}

/**
 * The one PUT of the requesting client, when its attributes or its `client_id` mapper are off.
 * Keycloak 26.7.3 applies `protocolMappers` sent with a client update (checked on a real one).
 */
function planRequester(
  requester: ClientRepresentation,
  target: KeycloakSetupTarget,
): AdminRequest[] {
  const attributes = requester.attributes ?? {}
  const wanted: Record<string, string> = {}
  if (attributes[STANDARD_TOKEN_EXCHANGE_ATTRIBUTE] !== 'true')
    wanted[STANDARD_TOKEN_EXCHANGE_ATTRIBUTE] = 'true'
  if (attributes[LIGHTWEIGHT_ACCESS_TOKEN_ATTRIBUTE] === 'true')
    wanted[LIGHTWEIGHT_ACCESS_TOKEN_ATTRIBUTE] = 'false'
  if (attributes[RFC9068_HEADER_TYPE_ATTRIBUTE] !== 'true')
    wanted[RFC9068_HEADER_TYPE_ATTRIBUTE] = 'true'
  const mappers = requester.protocolMappers ?? []
  const needed = [
    { mapper: clientIdClaimMapper(requester.clientId), what: 'a client_id claim mapper' },
    ...(requester.serviceAccountsEnabled === true
      ? [{ mapper: serviceAccountSubMapper(), what: 'sub = client_id for its service account' }]
      : []),
  ].filter(({ mapper }) => !mappers.some((candidate) => mapperSatisfies(candidate, mapper)))
  if (Object.keys(wanted).length === 0 && needed.length === 0) return []
  const changes = [
    ...Object.entries(wanted).map(([k, v]) => `${k}=${v}`),
    ...needed.map(({ what }) => what),
  ]
  return [
    {
      method: 'PUT',
      path: `${realmPath(target.realm)}/clients/${encodeURIComponent(requester.id)}`,
      body: {
        ...requester,
        attributes: { ...attributes, ...wanted },
        ...(needed.length === 0
          ? {}
          : { protocolMappers: [...mappers, ...needed.map(({ mapper }) => mapper)] }),
      },
      reason: `set ${changes.join(', ')} on ${target.requesterClientId}`,
    },
  ]
}

/**
 * The writes that bring `state` to what `target` needs, in order: nothing when the realm is
 * already configured. Throws `KeycloakSetupError` for what a script must not fix by itself
 * (missing or public clients).
 */
export function planKeycloakSetup(
  state: KeycloakRealmState,
  target: KeycloakSetupTarget = DEFAULT_TARGET,
): AdminRequest[] {
  const { requester } = assertClients(state, target)
  const attached = new Set(
    [...state.requesterDefaultScopes, ...state.requesterOptionalScopes].map((s) => s.name),
  )
  return [
    ...desiredClientScopes(target).flatMap((desired) =>
      planScope(desired, state, target, requester, attached),
    ),
    ...planRequester(requester, target),
  ]
}
