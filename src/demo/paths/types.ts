/**
 * The common shape of every way App A can reach App B for its user ("paths"): RFC 8693 token
 * exchange, the authentik-style JWT federation re-issue, and the M2M + header workaround. The
 * dashboard renders a list of these with one card component, and the attack lab's matrix reads
 * them, so a new path (e.g. an STS) is one more strategy returning this shape.
 *
 * Results hold decoded claims and observations, never token strings.
 */

export type PathId = 'rfc8693' | 'jwt-federation' | 'm2m-header' | (string & {})

/** Badge colour of the path (the web kit's `.badge-*`). */
export type PathBadge = 'green' | 'yellow' | 'orange' | 'red'

export interface Verdict {
  readonly ok: boolean
  /** One line: what was observed, e.g. `sub = d47a… (bob)`. */
  readonly reason: string
}

export interface PathVerdicts {
  /** Is the user bound in the signed token (`sub` = the user)? */
  readonly userBound: Verdict
  /** Does the token record the acting service (`act.sub` = App A)? */
  readonly actorRecorded: Verdict
  /** Did the requester authenticate to the IdP to get the token? */
  readonly requesterAuthenticated: Verdict
}

/** What was sent to the IdP's token endpoint and how it answered. */
export interface TokenRequestRecord {
  readonly grantType: string
  /** `client_secret_basic` when App A's credentials were sent; `none` otherwise. */
  readonly clientAuth: 'client_secret_basic' | 'none'
  /** Form parameter names (values are tokens or secrets: never recorded). */
  readonly parameters: readonly string[]
  readonly status: number
  readonly error?: string
  readonly description?: string
}

/** The call to App B's service API and its answer. */
export interface ServiceCallRecord {
  readonly path: string
  /** The `X-User-Sub` value sent, if any. */
  readonly userHeader?: string
  readonly status: number
  readonly count?: number
  readonly user?: string
  readonly caller?: string
  readonly decidedBy?: string
  readonly headerIgnored?: string
  readonly error?: string
  readonly description?: string
}

export interface DecodedToken {
  readonly label: string
  readonly claims: Readonly<Record<string, unknown>>
}

export interface PathResult {
  readonly id: PathId
  readonly title: string
  /** What it is, e.g. `RFC 8693 token exchange` or `pattern: authentik JWT federation`. */
  readonly pattern: string
  readonly badge: PathBadge
  readonly grantType: string
  readonly ok: boolean
  readonly tokenRequest?: TokenRequestRecord
  readonly serviceCall?: ServiceCallRecord
  /** Decoded tokens involved, input first. */
  readonly tokens: readonly DecodedToken[]
  /** Absent when no token was issued. */
  readonly verdicts?: PathVerdicts
  readonly error?: { readonly stage: 'token' | 'service'; readonly message: string }
  readonly durationMs: number
}

export interface PathInput {
  /** The signed-in user's access token for App A (the strategy never returns it). */
  readonly userAccessToken: string
}

export interface PathStrategy {
  readonly id: PathId
  run(input: PathInput): Promise<PathResult>
}

export interface PathTarget {
  /** The IdP's token endpoint, or a function resolving it (discovery). */
  readonly tokenEndpoint: string | (() => Promise<string> | string)
  /** App A's client_id and secret. */
  readonly clientId: string
  readonly clientSecret: string
  /** The target service's client_id (audience), e.g. app-b. */
  readonly audience: string
  /** Base URL of the target's service API. */
  readonly serviceUrl: string
  /** Scope asked for the target, e.g. `todos:read`. */
  readonly scope: string
  readonly fetch?: typeof fetch
  readonly timeoutMs?: number
}
