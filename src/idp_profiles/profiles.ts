/**
 * What onbehalf knows about each kind of identity provider: where its issuer and discovery
 * document live, and which on-behalf-of strategies it really supports.
 *
 * - `embedded`: onbehalf's own OP (RFC 8693 token exchange).
 * - `keycloak`: one realm; standard token exchange V2 (Keycloak 26.2+, shared/reference/keycloak.md).
 * - `authentik`: one issuer per application (`/application/o/<slug>/`); up to 2026.5 only the
 *   "JWT federation" client_credentials re-issue plus the header workaround; from 2026.8 also
 *   RFC 8693 (shared/reference/authentik.md).
 * - `generic`: any OpenID Provider; the strategies are whatever the operator says it supports.
 *
 * @example
 * const profile = idpProfile('keycloak')
 * profile.issuerFor(settings, 'app-a') // 'http://keycloak:8080/realms/onbehalf'
 */

export const IDP_KINDS = ['embedded', 'keycloak', 'authentik', 'generic'] as const
export type IdpKind = (typeof IDP_KINDS)[number]

/**
 * - `rfc8693`: App A exchanges the user's token at the token endpoint (RFC 8693 §2).
 * - `jwt-federation`: authentik's client_credentials + client_assertion re-issue for App B.
 * - `header-workaround`: App A forwards the user's identity in a header next to its own token.
 */
export const STRATEGIES = ['rfc8693', 'jwt-federation', 'header-workaround'] as const
export type Strategy = (typeof STRATEGIES)[number]

/** authentik's calendar version, `YYYY.M[.patch]`. */
export interface CalVer {
  readonly year: number
  readonly minor: number
  readonly patch: number
}

/** The validated settings the profiles derive URLs from (see settings.ts). */
export interface IdpSettings {
  readonly kind: IdpKind
  /** Explicit issuer (IDP_ISSUER); not used for authentik, whose issuer is per application. */
  readonly issuer?: string
  readonly keycloakUrl: string
  readonly keycloakRealm: string
  readonly authentikUrl: string
  readonly authentikVersion: CalVer
  /** Strategies to run; defaults to everything the IdP supports. */
  readonly strategies: readonly Strategy[]
  /** IDP_JWKS_URI: where a generic IdP publishes its keys (the others have known locations). */
  readonly jwksUri?: string
}

export interface IdpProfile {
  readonly kind: IdpKind
  readonly label: string
  /** Issuer the client `clientSlug` sees (authentik has one issuer per application). */
  issuerFor(settings: IdpSettings, clientSlug: string): string
  /** Strategies this IdP supports with these settings (version-dependent for authentik). */
  supportedStrategies(settings: IdpSettings): readonly Strategy[]
  /**
   * Extra `scope` App A sends with an RFC 8693 request so the IdP can produce the audience:
   * Keycloak only narrows to audiences its client scopes put into tokens.
   */
  exchangeScope(audience: string, scope: string): string
  /** The JWKS of `issuer` (one of this IdP's issuers), where resource servers find its keys. */
  jwksUriFor(settings: IdpSettings, issuer: string): string
  /** Scope App A asks for at sign-in. */
  readonly loginScope: string
  /** Whether its login page is a plain HTML form (a headless login works), not a JS app. */
  readonly htmlLoginForm: boolean
}

export function discoveryUrlOf(issuer: string): string {
  // OpenID Connect Discovery 1.0 §4: issuer + "/.well-known/openid-configuration".
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`
}

export function parseCalVer(value: string): CalVer | undefined {
  const match = /^(\d{4})\.(\d{1,2})(?:\.(\d+))?$/.exec(value.trim())
  if (!match) return undefined
  return { year: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0) }
}

export function calVerAtLeast(version: CalVer, year: number, minor: number): boolean {
  return version.year > year || (version.year === year && version.minor >= minor)
}

const trimSlash = (url: string) => url.replace(/\/+$/, '')

const embedded: IdpProfile = {
  kind: 'embedded',
  label: 'onbehalf embedded IdP',
  issuerFor: (settings) => trimSlash(settings.issuer ?? 'http://localhost:9000'),
  // RFC 8693, plus the two workaround patterns it reproduces for comparison (src/idp/federation.ts,
  // client_credentials + X-User-Sub).
  supportedStrategies: () => STRATEGIES,
  exchangeScope: (_audience, scope) => scope,
  jwksUriFor: (_settings, issuer) => `${trimSlash(issuer)}/jwks`,
  loginScope: 'openid profile email todos:read',
  htmlLoginForm: true,
}

const keycloak: IdpProfile = {
  kind: 'keycloak',
  label: 'Keycloak (standard token exchange V2)',
  issuerFor: (settings) =>
    settings.issuer
      ? trimSlash(settings.issuer)
      : `${trimSlash(settings.keycloakUrl)}/realms/${encodeURIComponent(settings.keycloakRealm)}`,
  supportedStrategies: () => ['rfc8693'],
  // The optional client scope `<audience>-audience` holds the audience mapper (setup_keycloak.ts).
  exchangeScope: (audience, scope) =>
    [`${audience}-audience`, ...scope.split(' ')].filter(Boolean).join(' '),
  jwksUriFor: (_settings, issuer) => `${trimSlash(issuer)}/protocol/openid-connect/certs`,
  loginScope: 'openid profile email',
  htmlLoginForm: true,
}

const authentik: IdpProfile = {
  kind: 'authentik',
  label: 'authentik',
  // Issuer per application: <scheme>://<host>/application/o/<slug>/ (trailing slash included).
  issuerFor: (settings, clientSlug) =>
    `${trimSlash(settings.authentikUrl)}/application/o/${encodeURIComponent(clientSlug)}/`,
  supportedStrategies: (settings) =>
    calVerAtLeast(settings.authentikVersion, 2026, 8)
      ? ['jwt-federation', 'header-workaround', 'rfc8693']
      : ['jwt-federation', 'header-workaround'],
  exchangeScope: (_audience, scope) => scope,
  // Per application: <issuer>jwks/ (the issuer ends with a slash).
  jwksUriFor: (_settings, issuer) => `${trimSlash(issuer)}/jwks/`,
  loginScope: 'openid profile email',
  // authentik's flow executor is a JavaScript application: no headless form login.
  htmlLoginForm: false,
}

const generic: IdpProfile = {
  kind: 'generic',
  label: 'generic OpenID Provider',
  issuerFor: (settings) => {
    if (!settings.issuer) throw new TypeError('IDP_ISSUER is required when IDP=generic')
    return trimSlash(settings.issuer)
  },
  supportedStrategies: () => STRATEGIES,
  exchangeScope: (_audience, scope) => scope,
  jwksUriFor: (settings) => {
    // Asked for only by resource servers (App B, App C); `onbehalf doctor` needs no keys.
    if (!settings.jwksUri)
      throw new TypeError(
        'IDP_JWKS_URI is required when IDP=generic (where App B and App C find its keys)',
      )
    return settings.jwksUri
  },
  loginScope: 'openid profile email',
  htmlLoginForm: true,
}

const PROFILES: Readonly<Record<IdpKind, IdpProfile>> = Object.freeze({
  embedded,
  keycloak,
  authentik,
  generic,
})

export function idpProfile(kind: IdpKind): IdpProfile {
  return PROFILES[kind]
}

/** The issuer a client's tokens come from (per application on authentik, one issuer elsewhere). */
export function issuerForClient(settings: IdpSettings, clientId: string): string {
  return idpProfile(settings.kind).issuerFor(settings, clientId)
}

/** Where resource servers find the keys of one of the IdP's issuers. */
export function jwksUriForIssuer(settings: IdpSettings, issuer: string): string {
  return idpProfile(settings.kind).jwksUriFor(settings, issuer)
}
