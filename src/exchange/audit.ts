/**
 * The audit record of one grant call: exactly one event per call, issued or refused, written by the
 * runner (runner.ts). It carries identifiers (`sub`, `jti`, client ids) and the private reason,
 * never token values or secrets.
 *
 * @example
 * ```ts
 * const audit: AuditSink = (event) => logger.info({ audit: event }, `${event.event} ${event.outcome}`)
 * ```
 */
import type { OAuthErrorCode } from './errors.js'

interface AuditEventBase<Name extends string> {
  readonly event: Name
  readonly outcome: 'issued' | 'refused'
  /** The requesting client as the request named it (authenticated or not: see each grant). */
  readonly clientId: string
  readonly scopes?: readonly string[]
  /** `jti` of the token the engine minted. */
  readonly issuedJti?: string
  readonly error?: OAuthErrorCode
  /** The error's private `detail`. */
  readonly reason?: string
}

/** RFC 8693 token exchange. */
export interface TokenExchangeAuditEvent extends AuditEventBase<'token_exchange'> {
  readonly subjectSub?: string
  readonly subjectJti?: string
  readonly actorSub?: string
  readonly actorJti?: string
  readonly audience?: string
  /** RFC 9449: thumbprint of the DPoP key the issued token is bound to. */
  readonly dpopJkt?: string
}

/** The authentik-style JWT federation re-issue; `clientId` is the target named by `client_id`. */
export interface JwtFederationAuditEvent extends AuditEventBase<'jwt_federation'> {
  readonly assertionClientId?: string
  readonly subjectSub?: string
  readonly assertionJti?: string
  readonly issuedSub?: string
}

/**
 * client_credentials: decided by the engine, signed by oidc-provider right after the decision, so
 * `issued` means the decision allowed the token and `issuedJti` is absent.
 */
export interface ClientCredentialsAuditEvent extends AuditEventBase<'client_credentials'> {
  readonly audience?: string
}

/**
 * A Txn-Token Request (draft-ietf-oauth-transaction-tokens-10 §11): `clientId` is the requesting
 * workload. `txn` is logged so a transaction can be followed across services (§13.2); the token
 * itself never is (§15.2).
 */
export interface TxnTokenAuditEvent extends AuditEventBase<'txn_token'> {
  readonly subjectSub?: string
  readonly subjectJti?: string
  /** `access_token` for a new transaction, `txn_token` for a replacement. */
  readonly subjectTokenType?: string
  readonly trustDomain?: string
  readonly txn?: string
  readonly replacement?: boolean
}

export type AuditEvent =
  | TokenExchangeAuditEvent
  | JwtFederationAuditEvent
  | ClientCredentialsAuditEvent
  | TxnTokenAuditEvent

export type AuditSink<E extends AuditEvent = AuditEvent> = (event: E) => void
