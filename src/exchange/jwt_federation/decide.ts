/**
 * decide: the single decision point of the JWT federation grant. Order: the target's federation
 * is on (`unauthorized_client`) → the assertion was issued to a client the target trusts
 * (`invalid_grant`) → it carries neither `act` nor `may_act` → subject per policy → scopes silently cut to the
 * ceiling (authentik cuts requested scopes to the target's mappings).
 *
 * Reproduced as the pattern does it, and shown as such: the new lifetime is the target's own, not
 * bounded by the assertion's `exp`; the assertion's `aud` is not checked (the trusted-client check
 * uses `client_id`/`azp`); `act` is never set.
 *
 * @example
 * ```ts
 * const decision = decideFederation({ request, target, assertion, lifetimeSeconds: 600, now })
 * ```
 */
import { InvalidGrant, UnauthorizedClient } from '../errors.js'
import {
  ASSERTION_INVALID,
  type FederationDecision,
  type FederationRequest,
  type FederationTarget,
  type VerifiedAssertion,
} from './types.js'

export interface DecideFederationInput {
  readonly request: FederationRequest
  readonly target: FederationTarget
  readonly assertion: VerifiedAssertion
  /** Lifetime of the re-issued token (authentik: the target's access token validity). */
  readonly lifetimeSeconds: number
  /** Current time in whole seconds. */
  readonly now: number
}

export function decideFederation(input: DecideFederationInput): FederationDecision {
  const { request, target, assertion, lifetimeSeconds, now } = input
  if (!target.enabled) {
    throw new UnauthorizedClient({
      description: 'client is not allowed to use JWT federation',
      detail: 'federation is disabled for the client',
    })
  }
  const assertionClientId = assertion.azp ?? assertion.clientId
  if (assertion.azp !== undefined && assertion.azp !== assertion.clientId) {
    throw new InvalidGrant({
      description: ASSERTION_INVALID,
      detail: 'assertion azp differs from client_id',
    })
  }
  if (!target.trustedClients.includes(assertionClientId)) {
    throw new InvalidGrant({
      description: ASSERTION_INVALID,
      detail: `assertion issued to ${assertionClientId}, not trusted by ${target.clientId}`,
    })
  }
  // Provenance over syntax: the re-issued token has no `act` and no `may_act`, so a delegated
  // token (`act`) or one that only a named party may act with (`may_act`) is never re-issued.
  if (assertion.act !== undefined || assertion.mayAct !== undefined) {
    throw new InvalidGrant({
      description: ASSERTION_INVALID,
      detail:
        assertion.act === undefined
          ? 'assertion carries may_act: only the party it names may act'
          : 'assertion is a delegated token',
    })
  }
  const requested = request.scopes ?? []
  const scopes = requested.filter((scope) => target.scopes.includes(scope))
  const sub = target.subject === 'user' ? assertion.sub : `${assertionClientId}-${assertion.sub}`
  const decision = {
    clientId: target.clientId,
    assertionClientId,
    sub,
    subjectKind: target.subject,
    scopes: Object.freeze(scopes),
    iat: now,
    exp: now + lifetimeSeconds,
    assertionJti: assertion.jti,
  }
  return Object.freeze(decision) as FederationDecision
}
