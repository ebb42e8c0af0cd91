/**
 * `onbehalf setup keycloak`: makes a Keycloak realm ready for standard token exchange (V2, Keycloak
 * 26.2+) over the Admin REST API, idempotently: read the state, plan the missing writes, send them.
 *
 * What it ensures (shared/reference/keycloak.md, "Setting it up over the Admin REST API"):
 * - an optional client scope `app-b-audience` holding an `oidc-audience-mapper` that puts `app-b`
 *   into access tokens (Keycloak's exchange only narrows to audiences the requester's scopes
 *   produce; `audience=app-b` never adds one), and a `todos:read` scope App B's API requires;
 * - both scopes assigned to app-a (as optional scopes, so app-a's login token stays addressed to
 *   app-a and only an exchange asking for them gets app-b);
 * - the client attribute `standard.token.exchange.enabled=true` on app-a, and lightweight access
 *   tokens off (they drop the claims App B reads).
 *
 * The planner (`planKeycloakSetup`) is a pure function of the state read from the server, so the
 * requests it would send can be listed and checked without a server.
 *
 * @example
 * const admin = await connectKeycloakAdmin({ baseUrl: 'http://keycloak:8080', username, password })
 * const state = await readKeycloakState(admin, target)
 * await applyKeycloakPlan(admin, planKeycloakSetup(state, target))
 */
import { parseArgs } from 'node:util'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

/** One Admin REST API request. `{{ref}}` in `path` is an id captured from an earlier step. */
export interface AdminRequest {
  readonly method: HttpMethod
  readonly path: string
  readonly body?: unknown
  /** Name under which the id of the created resource (from the Location header) is kept. */
  readonly captureIdAs?: string
  /** Why this request is needed, for the printed plan. */
  readonly reason: string
}

/** ProtocolMapperRepresentation (the fields onbehalf reads and writes). */
export interface ProtocolMapperRepresentation {
  id?: string
  name: string
  protocol: string
  protocolMapper: string
  consentRequired?: boolean
  config: Record<string, string>
}

/** ClientScopeRepresentation. */
export interface ClientScopeRepresentation {
  id?: string
  name: string
  description?: string
  protocol?: string
  attributes?: Record<string, string>
  protocolMappers?: ProtocolMapperRepresentation[]
}

/** ClientRepresentation: only some fields are typed; the rest is sent back unchanged on update. */
export interface ClientRepresentation {
  id: string
  clientId: string
  enabled?: boolean
  publicClient?: boolean
  attributes?: Record<string, string>
  [field: string]: unknown
}

export interface ScopeRef {
  id: string
  name: string
}

export interface KeycloakSetupTarget {
  readonly realm: string
  /** The client that exchanges (app-a). */
  readonly requesterClientId: string
  /** The audience it exchanges for (app-b). */
  readonly audienceClientId: string
  /** Extra scopes App B requires in the exchanged token (todos:read). */
  readonly extraScopes: readonly string[]
}

export const DEFAULT_TARGET: KeycloakSetupTarget = Object.freeze({
  realm: 'onbehalf',
  requesterClientId: 'app-a',
  audienceClientId: 'app-b',
  extraScopes: Object.freeze(['todos:read']),
})

export interface KeycloakRealmState {
  readonly requester?: ClientRepresentation
  readonly audience?: ClientRepresentation
  readonly clientScopes: readonly ClientScopeRepresentation[]
  readonly requesterDefaultScopes: readonly ScopeRef[]
  readonly requesterOptionalScopes: readonly ScopeRef[]
}

export class KeycloakSetupError extends Error {
  static readonly code = 'ERR_KEYCLOAK_SETUP'
  readonly code = KeycloakSetupError.code
  override name = 'KeycloakSetupError'
}

export const STANDARD_TOKEN_EXCHANGE_ATTRIBUTE = 'standard.token.exchange.enabled'
export const LIGHTWEIGHT_ACCESS_TOKEN_ATTRIBUTE = 'client.use.lightweight.access.token.enabled'

export function audienceScopeName(audienceClientId: string): string {
  return `${audienceClientId}-audience`
}

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

/**
 * The writes that bring `state` to what `target` needs, in order: nothing when the realm is
 * already configured. Throws `KeycloakSetupError` for what a script must not fix by itself
 * (missing or public clients).
 */
export function planKeycloakSetup(
  state: KeycloakRealmState,
  target: KeycloakSetupTarget = DEFAULT_TARGET,
): AdminRequest[] {
  const { requester, audience } = state
  const base = realmPath(target.realm)
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

  const steps: AdminRequest[] = []
  const attached = new Set(
    [...state.requesterDefaultScopes, ...state.requesterOptionalScopes].map((s) => s.name),
  )

  for (const desired of desiredClientScopes(target)) {
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
  }

  const attributes = requester.attributes ?? {}
  const wanted: Record<string, string> = {}
  if (attributes[STANDARD_TOKEN_EXCHANGE_ATTRIBUTE] !== 'true')
    wanted[STANDARD_TOKEN_EXCHANGE_ATTRIBUTE] = 'true'
  if (attributes[LIGHTWEIGHT_ACCESS_TOKEN_ATTRIBUTE] === 'true')
    wanted[LIGHTWEIGHT_ACCESS_TOKEN_ATTRIBUTE] = 'false'
  if (Object.keys(wanted).length > 0) {
    steps.push({
      method: 'PUT',
      path: `${base}/clients/${encodeURIComponent(requester.id)}`,
      body: { ...requester, attributes: { ...attributes, ...wanted } },
      reason: `set ${Object.entries(wanted)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')} on ${target.requesterClientId}`,
    })
  }
  return steps
}

// --- Talking to Keycloak -------------------------------------------------------------------------

export interface AdminResponse {
  status: number
  location: string | null
  body: unknown
}

export interface KeycloakAdmin {
  readonly baseUrl: string
  send(method: HttpMethod, path: string, body?: unknown): Promise<AdminResponse>
}

export interface ConnectOptions {
  baseUrl: string
  username: string
  password: string
  fetch?: typeof fetch
}

/** Admin token (password grant for `admin-cli` in the master realm) and a small request helper. */
export async function connectKeycloakAdmin(options: ConnectOptions): Promise<KeycloakAdmin> {
  const doFetch = options.fetch ?? fetch
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  const response = await doFetch(`${baseUrl}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: 'admin-cli',
      username: options.username,
      password: options.password,
    }),
  })
  const token = (await response.json().catch(() => ({}))) as {
    access_token?: string
    error?: string
    error_description?: string
  }
  if (!response.ok || !token.access_token) {
    throw new KeycloakSetupError(
      `admin login at ${baseUrl} failed (${response.status} ${token.error ?? ''} ${token.error_description ?? ''}): check --admin-user/--admin-password (KC_BOOTSTRAP_ADMIN_USERNAME/PASSWORD)`.replace(
        / +\)/,
        ')',
      ),
    )
  }
  const authorization = `Bearer ${token.access_token}`
  return {
    baseUrl,
    async send(method, path, body) {
      const res = await doFetch(`${baseUrl}${path}`, {
        method,
        headers: {
          authorization,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      const text = await res.text()
      let parsed: unknown = text
      try {
        parsed = text ? JSON.parse(text) : undefined
      } catch {
        // keep the text
      }
      return { status: res.status, location: res.headers.get('location'), body: parsed }
    },
  }
}

async function getJson<T>(admin: KeycloakAdmin, path: string): Promise<T> {
  const response = await admin.send('GET', path)
  if (response.status === 404)
    throw new KeycloakSetupError(`${path}: not found (is the realm imported?)`)
  if (response.status !== 200)
    throw new KeycloakSetupError(`GET ${path}: ${response.status} ${JSON.stringify(response.body)}`)
  return response.body as T
}

/** Reads what the planner needs (all GETs). */
export async function readKeycloakState(
  admin: KeycloakAdmin,
  target: KeycloakSetupTarget = DEFAULT_TARGET,
): Promise<KeycloakRealmState> {
  const base = realmPath(target.realm)
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

/** Sends the planned requests in order, filling `{{ref}}` placeholders with captured ids. */
export async function applyKeycloakPlan(
  admin: KeycloakAdmin,
  steps: readonly AdminRequest[],
): Promise<void> {
  const ids = new Map<string, string>()
  const fill = (path: string) =>
    path.replace(/\{\{([^}]+)\}\}/g, (_match, name: string) => {
      const id = ids.get(name)
      if (!id) throw new KeycloakSetupError(`no id captured for ${name}`)
      return encodeURIComponent(id)
    })
  for (const step of steps) {
    const path = fill(step.path)
    const response = await admin.send(step.method, path, step.body)
    if (response.status < 200 || response.status >= 300) {
      throw new KeycloakSetupError(
        `${step.method} ${path} (${step.reason}): ${response.status} ${JSON.stringify(response.body)}`,
      )
    }
    if (step.captureIdAs) {
      const id = response.location?.split('/').pop()
      if (!id)
        throw new KeycloakSetupError(`${step.method} ${path}: no Location header with the new id`)
      ids.set(step.captureIdAs, id)
    }
  }
}

// --- Command line ----------------------------------------------------------------------------------

const USAGE = `usage: onbehalf setup keycloak [--url URL] [--realm onbehalf] [--admin-user NAME] [--admin-password PW] [--dry-run]

  --url             Keycloak base URL (env KEYCLOAK_URL, default http://keycloak:8080)
  --realm           realm to configure (env KEYCLOAK_REALM, default onbehalf)
  --admin-user      admin user (env KEYCLOAK_ADMIN_USER or KC_BOOTSTRAP_ADMIN_USERNAME, default admin)
  --admin-password  admin password (env KEYCLOAK_ADMIN_PASSWORD or KC_BOOTSTRAP_ADMIN_PASSWORD, default admin)
  --dry-run         print the requests it would send, send none`

export interface CommandIo {
  out: (line: string) => void
  err: (line: string) => void
  env?: NodeJS.ProcessEnv
  fetch?: typeof fetch
}

const defaultIo: CommandIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
}

/** `onbehalf setup <what> …`; returns the exit code. */
export async function runSetupCommand(argv: string[], io: CommandIo = defaultIo): Promise<number> {
  const [what, ...rest] = argv
  if (what !== 'keycloak') {
    io.err(USAGE)
    return 2
  }
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: rest,
      options: {
        url: { type: 'string' },
        realm: { type: 'string' },
        'admin-user': { type: 'string' },
        'admin-password': { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`)
    return 2
  }
  if (values.help) {
    io.out(USAGE)
    return 0
  }
  const env = io.env ?? process.env
  const baseUrl = String(values.url ?? env.KEYCLOAK_URL ?? 'http://keycloak:8080')
  const target: KeycloakSetupTarget = {
    ...DEFAULT_TARGET,
    realm: String(values.realm ?? env.KEYCLOAK_REALM ?? 'onbehalf'),
  }
  try {
    const admin = await connectKeycloakAdmin({
      baseUrl,
      username: String(
        values['admin-user'] ??
          env.KEYCLOAK_ADMIN_USER ??
          env.KC_BOOTSTRAP_ADMIN_USERNAME ??
          'admin',
      ),
      password: String(
        values['admin-password'] ??
          env.KEYCLOAK_ADMIN_PASSWORD ??
          env.KC_BOOTSTRAP_ADMIN_PASSWORD ??
          'admin',
      ),
      fetch: io.fetch,
    })
    const plan = planKeycloakSetup(await readKeycloakState(admin, target), target)
    if (plan.length === 0) {
      io.out(
        `✔ realm ${target.realm} at ${baseUrl} is already set up for token exchange; nothing to change`,
      )
      return 0
    }
    for (const step of plan)
      io.out(`${values['dry-run'] ? '·' : '→'} ${step.method} ${step.path}  (${step.reason})`)
    if (values['dry-run']) return 0
    await applyKeycloakPlan(admin, plan)
    io.out(
      `✔ realm ${target.realm} set up: ${plan.length} change(s); check with \`onbehalf doctor --idp keycloak\``,
    )
    return 0
  } catch (error) {
    if (error instanceof KeycloakSetupError) {
      io.err(`✘ ${error.message}`)
      return 1
    }
    if (error instanceof TypeError) {
      io.err(
        `✘ cannot reach Keycloak at ${baseUrl} (${(error as Error & { cause?: Error }).cause?.message ?? error.message}): is it running, and is "127.0.0.1 keycloak" in /etc/hosts?`,
      )
      return 1
    }
    throw error
  }
}
