/**
 * The audit record of one exchange: exactly one event per call, issued or refused. It carries
 * identifiers (`sub`, `jti`, client ids) and the private reason, never token values or secrets.
 *
 * @example
 * ```ts
 * const audit: AuditSink = (event) => logger.info({ audit: event }, `token exchange ${event.outcome}`)
 * ```
 */
import type { OAuthErrorCode } from './errors.js'

export interface AuditEvent {
  readonly event: 'token_exchange'
  readonly outcome: 'issued' | 'refused'
  readonly clientId: string
  readonly subjectSub?: string
  readonly subjectJti?: string
  readonly actorSub?: string
  readonly actorJti?: string
  readonly audience?: string
  readonly scopes?: readonly string[]
  readonly issuedJti?: string
  readonly error?: OAuthErrorCode
  /** The error's private `detail`. */
  readonly reason?: string
}

export type AuditSink = (event: AuditEvent) => void
