/**
 * The doctor's vocabulary: what a check reports, the options it runs with, and the context the
 * checks hand down the list (discovery's metadata, the probe's answer, the subject token).
 */
import type { IdpKind, Strategy } from '../../idp_profiles/index.js'

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip'

export interface CheckResult {
  readonly id: string
  readonly title: string
  readonly status: CheckStatus
  /** A failing required check makes the exit code non-zero. */
  readonly required: boolean
  readonly detail: string
  /** What to do about a failure or warning. */
  readonly fix?: string
}

export interface DoctorReport {
  readonly ok: boolean
  readonly idp: IdpKind
  readonly issuer: string
  readonly strategies: readonly Strategy[]
  readonly checks: readonly CheckResult[]
}

export interface DoctorOptions {
  readonly idp: IdpKind
  readonly issuer: string
  readonly strategies: readonly Strategy[]
  readonly clientId: string
  readonly clientSecret: string
  readonly audience: string
  /** Scope asked for in the exchange (App B's API scope). */
  readonly scope: string
  readonly redirectUri: string
  readonly username?: string
  readonly password?: string
  readonly subjectToken?: string
  readonly fetch?: typeof fetch
  /** Per-request timeout in milliseconds. */
  readonly timeoutMs?: number
}

export interface Metadata {
  issuer?: string
  authorization_endpoint?: string
  token_endpoint?: string
  grant_types_supported?: string[]
  token_endpoint_auth_methods_supported?: string[]
  [key: string]: unknown
}

export interface OAuthAnswer {
  status: number
  body: Record<string, unknown>
}

/** What the checks learn and pass on, in order. */
export interface DoctorContext {
  readonly options: DoctorOptions
  readonly wantsRfc8693: boolean
  readonly wantsFederation: boolean
  metadata?: Metadata
  tokenEndpoint?: string
  /** The deliberately invalid request's answer (client-auth), read by exchange-enabled. */
  probe?: OAuthAnswer
  /** The probe said the credentials are wrong. */
  badCredentials?: boolean
  subjectToken?: string
}

/**
 * One named check. `run` returns the lines it reports (none when it does not apply) and, when
 * the later checks cannot run, `halt` with the reason they are skipped.
 */
export interface DoctorCheck {
  readonly id: string
  readonly title: string
  /** Reported as skipped when an earlier check halts (exchange-enabled is not: it only follows a probe). */
  readonly reportedWhenSkipped: boolean
  run(context: DoctorContext): Promise<CheckOutcome>
}

export interface CheckOutcome {
  readonly results: readonly CheckResult[]
  readonly halt?: string
}
