/**
 * The Admin REST API shapes `onbehalf setup keycloak` reads and writes (Keycloak 26.x), what it
 * aims for (`KeycloakSetupTarget`) and what it reads (`KeycloakRealmState`). Types and constants
 * only: the planner, the admin client and the applier all speak this vocabulary.
 */

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
  protocolMappers?: ProtocolMapperRepresentation[]
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
/**
 * Keycloak 26.7 signs access tokens with `typ: JWT` unless this client attribute is on; App B (the
 * resource kit, RFC 9068 §2.1) accepts only `typ: at+jwt`. Seen on a real 26.7.3.
 */
export const RFC9068_HEADER_TYPE_ATTRIBUTE = 'access.token.header.type.rfc9068'

export function audienceScopeName(audienceClientId: string): string {
  return `${audienceClientId}-audience`
}
