/**
 * JWT federation re-issue, authentik style: NOT RFC 8693. Reproduced so onbehalf can show it next
 * to token exchange (see shared/reference/authentik.md, "Path 1").
 *
 * The request is `grant_type=client_credentials`, `client_id=<target>`,
 * `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and
 * `client_assertion=<a user's access token for another client>`, with no client secret. The
 * assertion is not a client assertion in the RFC 7523 sense: it is a bearer token, and holding it is
 * all the requester proves. Its stages, run by the audited runner (../runner.ts):
 *
 *   parse         form fields → FederationRequest (syntax, size; invalid_request)  parse_request.ts
 *   authenticate  the target named by client_id is configured (invalid_client 401)
 *                                                                       validate_assertion.ts
 *   validate      the assertion, checked like an RFC 8693 subject token (signature with a pinned
 *                 algorithm and our keys, `typ: at+jwt`, `iss`, times, still live)
 *                                                                       validate_assertion.ts
 *   decide        the target's federation is on and trusts the assertion's client; scopes cut to
 *                 the ceiling                                                       decide.ts
 *   mint          `aud` = `azp` = `client_id` = the target, no `act`                claims.ts
 *   respond       no refresh token, no issued_token_type                           respond.ts
 *
 * Every fault after parsing is `invalid_grant` with one fixed description (authentik's behaviour);
 * the reason goes to `detail` and the audit event.
 *
 * @example
 * ```ts
 * const grant = createJwtFederationGrant({ policy, exchangePolicy, verifier, subjectStatus, lifetimeSeconds })
 * const body = await runner.run(grant, formFields)
 * ```
 */
import type { JwtFederationAuditEvent } from '../audit.js'
import type { Grant } from '../grant.js'
import type { JwsVerifier } from '../../jws/verify_jws.js'
import type { ExchangePolicy } from '../policy.js'
import type { TokenStatus } from '../verify_access_token.js'
import { buildFederationClaims } from './claims.js'
import { decideFederation } from './decide.js'
import { parseFederationRequest } from './parse_request.js'
import type { FederationPolicy } from './policy.js'
import { buildFederationResponse } from './respond.js'
import {
  GRANT_TYPE_CLIENT_CREDENTIALS,
  type FederationDecision,
  type FederationParams,
  type FederationRequest,
  type FederationResponse,
  type FederationTarget,
  type VerifiedFederation,
} from './types.js'
import { findFederationTarget, validateAssertion } from './validate_assertion.js'

export interface JwtFederationGrantDeps {
  readonly policy: FederationPolicy
  /** Issuer, trusted issuers, clock skew and limits come from the exchange policy. */
  readonly exchangePolicy: ExchangePolicy
  readonly verifier: JwsVerifier
  readonly subjectStatus: TokenStatus
  /** Lifetime of re-issued tokens, seconds. */
  readonly lifetimeSeconds: number
}

export type JwtFederationGrant = Grant<{
  input: FederationParams
  request: FederationRequest
  requester: FederationTarget
  verified: VerifiedFederation
  decision: FederationDecision
  response: FederationResponse
  event: JwtFederationAuditEvent
}>

export function createJwtFederationGrant(deps: JwtFederationGrantDeps): JwtFederationGrant {
  const { policy, exchangePolicy, verifier, subjectStatus, lifetimeSeconds } = deps
  if (!(policy instanceof Map)) throw new TypeError('createJwtFederationGrant: policy is required')
  if (typeof verifier?.verify !== 'function') {
    throw new TypeError('createJwtFederationGrant: verifier is required')
  }
  if (typeof subjectStatus?.isActive !== 'function') {
    throw new TypeError('createJwtFederationGrant: subjectStatus.isActive is required')
  }
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds <= 0) {
    throw new TypeError('createJwtFederationGrant: lifetimeSeconds must be a positive integer')
  }

  return Object.freeze({
    event: 'jwt_federation',
    grantType: GRANT_TYPE_CLIENT_CREDENTIALS,
    parameters: new Set(['client_id', 'client_assertion', 'client_assertion_type', 'scope']),
    allowedDuplicateParameters: new Set<string>(),
    // The target named by `client_id` (unauthenticated: no secret was sent).
    requesterOf: (params) => (typeof params?.client_id === 'string' ? params.client_id : ''),
    parse: (params) => parseFederationRequest(params, exchangePolicy.limits),
    authenticate: (request) => findFederationTarget(policy, request),
    async validate(request, target, context) {
      const assertion = await validateAssertion(request.assertion, {
        verifier,
        subjectStatus,
        policy: exchangePolicy,
        now: context.now,
      })
      context.note({
        subjectSub: assertion.sub,
        assertionJti: assertion.jti,
        assertionClientId: assertion.azp ?? assertion.clientId,
      })
      return { request, target, assertion }
    },
    decide(verified, context) {
      const decision = decideFederation({ ...verified, lifetimeSeconds, now: context.now })
      context.note({ issuedSub: decision.sub, scopes: decision.scopes })
      return decision
    },
    mint: (decision) => ({
      claims: buildFederationClaims(decision, { issuer: exchangePolicy.issuer }),
      // The re-issued token lives and dies with the assertion's grant.
      derivedFromJti: decision.assertionJti,
    }),
    respond: (decision, accessToken) =>
      buildFederationResponse({ accessToken: accessToken!, decision }),
  } satisfies JwtFederationGrant)
}
