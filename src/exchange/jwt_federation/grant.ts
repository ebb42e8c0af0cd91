/**
 * JWT federation re-issue, authentik style: NOT RFC 8693. Reproduced so onbehalf can show it next
 * to token exchange (see shared/reference/authentik.md, "Path 1").
 *
 * The request is `grant_type=client_credentials`, `client_id=<target>`,
 * `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and
 * `client_assertion=<a user's access token for another client>`, with no client secret. The
 * assertion is not a client assertion in the RFC 7523 sense: it is a bearer token, and holding it is
 * all the requester proves. Stages, in order:
 *
 *   1. parseFederationRequest   form fields → FederationRequest (syntax, size; invalid_request)
 *   2. target client known      (invalid_client 401, like authentik for an unknown client_id)
 *   3. validateAssertion        the same checks as an RFC 8693 subject token: signature (pinned
 *                               algorithm, our keys), `typ: at+jwt`, `iss`, times, still live
 *   4. decideFederation         the single decision: the target's federation policy is on and trusts
 *                               the client the assertion was issued to; scopes cut to the ceiling
 *   5. mint                     the same `TokenMinter` as the exchange: `aud` = `azp` = `client_id`
 *                               = the target, no `act` (nothing records who asked)
 *
 * Every fault after parsing is `invalid_grant` with one fixed description (authentik's behaviour);
 * the reason goes to `detail` and the audit event. Exactly one audit event per call.
 *
 * @example
 * ```ts
 * const federation = createJwtFederation({ policy, exchangePolicy, verifier, subjectStatus, minter, audit })
 * const body = await federation.reissue(formFields)
 * ```
 */
import { z } from 'zod'
import {
  InvalidClient,
  InvalidGrant,
  InvalidRequest,
  OAuthError,
  ServerError,
  UnauthorizedClient,
} from './errors.js'
import type { JwsVerifier } from '../jws/verify_jws.js'
import { ACCESS_TOKEN_HEADER, buildAccessTokenClaims, type TokenMinter } from './mint.js'
import { SCOPE_TOKEN } from './parse_request.js'
import type { ExchangePolicy } from './policy.js'
import { NO_STORE_HEADERS } from './respond.js'
import { TOKEN_TYPE, type ExchangeDecision, type VerifiedToken } from './types.js'
import { verifyAccessToken, type TokenStatus } from './verify_access_token.js'

export const CLIENT_ASSERTION_TYPE_JWT_BEARER =
  'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
export const GRANT_TYPE_CLIENT_CREDENTIALS = 'client_credentials'

/** The fixed public text of every assertion or policy fault. */
export const ASSERTION_INVALID = 'client_assertion is invalid or not trusted for this client'

export { NO_STORE_HEADERS }

/** One client's `federation` block in config/policy.json (the client is the token's target). */
export const clientFederationPolicySchema = z.object({
  /** Off unless switched on. */
  enabled: z.boolean().default(false),
  /** Clients whose users' access tokens this client re-issues (authentik: "Federated OIDC Providers"). */
  trustedClients: z.array(z.string().min(1)).default([]),
  /**
   * `user`: the new token's `sub` is the assertion's user (authentik's provider route).
   * `service-account`: `sub` = `<trusted client>-<user sub>`, a generated account (its source route).
   */
  subject: z.enum(['user', 'service-account']).default('user'),
  /** Most scope the re-issued token may carry; default: every scope of the client's target. */
  scopes: z.array(z.string().regex(SCOPE_TOKEN, 'must be an RFC 6749 scope-token')).optional(),
})
export type ClientFederationPolicyInput = z.input<typeof clientFederationPolicySchema>

export interface ClientFederationPolicy {
  readonly clientId: string
  readonly enabled: boolean
  readonly trustedClients: readonly string[]
  readonly subject: 'user' | 'service-account'
  /** Ceiling for the re-issued token's scope. */
  readonly scopes: readonly string[]
}

/** Keyed by client_id; every configured client has an entry (off unless its block says so). */
export type FederationPolicy = ReadonlyMap<string, ClientFederationPolicy>

/**
 * Builds the frozen policy. `clients` lists every configured client with its optional block;
 * `targetScopes` gives each client's own target scopes (the default ceiling). Throws `TypeError`
 * naming the field when a trusted client or a scope is not configured.
 */
export function createFederationPolicy(
  clients: Readonly<Record<string, ClientFederationPolicyInput | undefined>>,
  targetScopes: Readonly<Record<string, readonly string[] | undefined>>,
): FederationPolicy {
  const policies = new Map<string, ClientFederationPolicy>()
  for (const [clientId, input] of Object.entries(clients)) {
    const block = clientFederationPolicySchema.parse(input ?? {})
    const ownScopes = targetScopes[clientId] ?? []
    block.trustedClients.forEach((trusted, index) => {
      if (!(trusted in clients)) {
        throw new TypeError(
          `clients.${clientId}.federation.trustedClients[${index}]: "${trusted}" is not a configured client`,
        )
      }
    })
    block.scopes?.forEach((scope, index) => {
      if (!ownScopes.includes(scope)) {
        throw new TypeError(
          `clients.${clientId}.federation.scopes[${index}]: "${scope}" is not a scope of target ${clientId}`,
        )
      }
    })
    if (block.enabled && ownScopes.length === 0 && block.scopes === undefined) {
      throw new TypeError(`clients.${clientId}.federation: ${clientId} is not a configured target`)
    }
    policies.set(
      clientId,
      Object.freeze({
        clientId,
        enabled: block.enabled,
        trustedClients: Object.freeze([...block.trustedClients]),
        subject: block.subject,
        scopes: Object.freeze([...(block.scopes ?? ownScopes)]),
      }),
    )
  }
  return policies
}

/** Output of `parseFederationRequest`: syntactically valid, nothing verified. */
export interface FederationRequest {
  readonly clientId: string
  readonly assertion: string
  /** `undefined` when the request named no scope. */
  readonly scopes: readonly string[] | undefined
}

export type FederationParams = Readonly<Record<string, string | readonly string[] | undefined>>

/**
 * True when the form fields have the shape of the authentik-style request: client_credentials with
 * a jwt-bearer `client_assertion` and no `client_secret`. Anything else is not ours.
 */
export function isFederationRequest(params: FederationParams): boolean {
  return (
    params.grant_type === GRANT_TYPE_CLIENT_CREDENTIALS &&
    params.client_assertion_type === CLIENT_ASSERTION_TYPE_JWT_BEARER &&
    params.client_assertion !== undefined &&
    params.client_secret === undefined
  )
}

const MAX_PARAMETER_LENGTH = 1024

function single(params: FederationParams, name: string, maxLength: number): string | undefined {
  const value = params[name]
  if (value === undefined) return undefined
  if (typeof value !== 'string') {
    throw new InvalidRequest({
      description: `${name} must appear once`,
      detail: `${name} repeated`,
    })
  }
  if (value === '' || value.length > maxLength) {
    throw new InvalidRequest({
      description: `${name} is invalid`,
      detail: `${name} empty or too long`,
    })
  }
  return value
}

/** Stage 1: syntax only. Every parameter may appear once; `client_id` and the assertion are required. */
export function parseFederationRequest(
  params: FederationParams,
  limits: Pick<ExchangePolicy['limits'], 'maxTokenLength' | 'maxScopes'>,
): FederationRequest {
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'string' && value !== undefined) {
      throw new InvalidRequest({
        description: `${name} must appear once`,
        detail: `${name} repeated`,
      })
    }
  }
  const clientId = single(params, 'client_id', MAX_PARAMETER_LENGTH)
  if (clientId === undefined) {
    throw new InvalidRequest({ description: 'client_id is required', detail: 'no client_id' })
  }
  const assertion = single(params, 'client_assertion', limits.maxTokenLength)
  if (assertion === undefined) {
    throw new InvalidRequest({
      description: 'client_assertion is required',
      detail: 'no assertion',
    })
  }
  const scope = single(params, 'scope', MAX_PARAMETER_LENGTH)
  let scopes: string[] | undefined
  if (scope !== undefined) {
    scopes = [...new Set(scope.split(' ').filter((s) => s !== ''))]
    if (scopes.length > limits.maxScopes || scopes.some((s) => !SCOPE_TOKEN.test(s))) {
      throw new InvalidRequest({ description: 'scope is invalid', detail: 'malformed scope' })
    }
  }
  return Object.freeze({ clientId, assertion, scopes })
}

/** Stage 3: the assertion is checked exactly like an RFC 8693 subject token; faults → invalid_grant. */
export async function validateAssertion(
  assertion: string,
  deps: {
    readonly verifier: JwsVerifier
    readonly subjectStatus: TokenStatus
    readonly policy: ExchangePolicy
    readonly now: number
  },
): Promise<VerifiedToken> {
  try {
    return await verifyAccessToken(assertion, 'subject', deps)
  } catch (err) {
    if (err instanceof OAuthError && err.error === 'invalid_request') {
      throw new InvalidGrant({
        description: ASSERTION_INVALID,
        detail: `assertion: ${err.detail ?? err.description}`,
        cause: err,
      })
    }
    throw err
  }
}

export interface FederationDecision {
  /** The target client: `aud`, `azp` and `client_id` of the new token. */
  readonly clientId: string
  /** The client the assertion was issued to (trusted by the target's policy). */
  readonly assertionClientId: string
  readonly sub: string
  readonly subjectKind: 'user' | 'service-account'
  readonly scopes: readonly string[]
  readonly iat: number
  readonly exp: number
  readonly assertionJti: string
}

export interface DecideFederationInput {
  readonly request: FederationRequest
  readonly assertion: VerifiedToken
  readonly policy: FederationPolicy
  /** Lifetime of the re-issued token (authentik: the target's access token validity). */
  readonly lifetimeSeconds: number
  /** Current time in whole seconds. */
  readonly now: number
}

/**
 * Stage 4, the single decision. Order: the target's federation is on (`unauthorized_client`) →
 * the assertion was issued to a client the target trusts (`invalid_grant`) → subject per policy →
 * scopes silently cut to the ceiling (authentik cuts requested scopes to the target's mappings).
 *
 * Reproduced as the pattern does it, and shown as such: the new lifetime is the target's own, not
 * bounded by the assertion's `exp`; the assertion's `aud` is not checked (the trusted-client check
 * uses `client_id`/`azp`); `act` is never set.
 */
export function decideFederation(input: DecideFederationInput): FederationDecision {
  const { request, assertion, policy, lifetimeSeconds, now } = input
  const target = policy.get(request.clientId)
  if (target === undefined) throw new InvalidClient({ detail: 'unknown client_id' })
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
  if (assertion.act !== undefined) {
    throw new InvalidGrant({
      description: ASSERTION_INVALID,
      detail: 'assertion is a delegated token',
    })
  }
  const requested = request.scopes ?? []
  const scopes = requested.filter((scope) => target.scopes.includes(scope))
  const sub = target.subject === 'user' ? assertion.sub : `${assertionClientId}-${assertion.sub}`
  return Object.freeze({
    clientId: target.clientId,
    assertionClientId,
    sub,
    subjectKind: target.subject,
    scopes: Object.freeze(scopes),
    iat: now,
    exp: now + lifetimeSeconds,
    assertionJti: assertion.jti,
  })
}

/** The token response: no refresh token, no `issued_token_type` (this is not RFC 8693). */
export interface FederationResponse {
  readonly access_token: string
  readonly token_type: 'Bearer'
  readonly expires_in: number
  readonly scope?: string
}

export interface FederationAuditEvent {
  readonly event: 'jwt_federation'
  readonly outcome: 'issued' | 'refused'
  /** The target client named by `client_id` (unauthenticated: no secret was sent). */
  readonly clientId: string
  readonly assertionClientId?: string
  readonly subjectSub?: string
  readonly assertionJti?: string
  readonly issuedSub?: string
  readonly scopes?: readonly string[]
  readonly issuedJti?: string
  readonly error?: OAuthError['error']
  readonly reason?: string
}

export type FederationAuditSink = (event: FederationAuditEvent) => void

export interface JwtFederationDeps {
  readonly policy: FederationPolicy
  /** Issuer, trusted issuers, clock skew and limits come from the exchange policy. */
  readonly exchangePolicy: ExchangePolicy
  readonly verifier: JwsVerifier
  readonly subjectStatus: TokenStatus
  /** The exchange's minter: the new token is signed and recorded the same way. */
  readonly minter: TokenMinter
  readonly audit: FederationAuditSink
  /** Lifetime of re-issued tokens, seconds. */
  readonly lifetimeSeconds: number
  readonly now?: () => number
}

export interface JwtFederation {
  reissue(params: FederationParams): Promise<FederationResponse>
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

export function createJwtFederation(deps: JwtFederationDeps): JwtFederation {
  const { policy, exchangePolicy, verifier, subjectStatus, minter, audit, lifetimeSeconds } = deps
  if (!(policy instanceof Map)) throw new TypeError('createJwtFederation: policy is required')
  if (typeof verifier?.verify !== 'function')
    throw new TypeError('createJwtFederation: verifier is required')
  if (typeof minter?.mint !== 'function')
    throw new TypeError('createJwtFederation: minter is required')
  if (typeof audit !== 'function') throw new TypeError('createJwtFederation: audit is required')
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds <= 0) {
    throw new TypeError('createJwtFederation: lifetimeSeconds must be a positive integer')
  }
  const clock = deps.now ?? (() => Date.now() / 1000)

  async function reissue(params: FederationParams): Promise<FederationResponse> {
    const event: Mutable<FederationAuditEvent> = {
      event: 'jwt_federation',
      outcome: 'refused',
      clientId: typeof params.client_id === 'string' ? params.client_id : '',
    }
    let response: FederationResponse | undefined
    let failure: OAuthError | undefined
    try {
      const request = parseFederationRequest(params, exchangePolicy.limits)
      if (!policy.has(request.clientId)) throw new InvalidClient({ detail: 'unknown client_id' })
      const now = Math.floor(clock())
      const assertion = await validateAssertion(request.assertion, {
        verifier,
        subjectStatus,
        policy: exchangePolicy,
        now,
      })
      event.subjectSub = assertion.sub
      event.assertionJti = assertion.jti
      event.assertionClientId = assertion.azp ?? assertion.clientId
      const decision = decideFederation({ request, assertion, policy, lifetimeSeconds, now })
      event.issuedSub = decision.sub
      event.scopes = decision.scopes

      // The exchange's claims builder and minter: same shape, `act` absent, `azp` = `client_id`.
      const asExchangeDecision: ExchangeDecision = Object.freeze({
        mode: 'impersonation',
        sub: decision.sub,
        audience: decision.clientId,
        clientId: decision.clientId,
        scopes: decision.scopes,
        act: undefined,
        iat: decision.iat,
        exp: decision.exp,
        issuedTokenType: TOKEN_TYPE.ACCESS_TOKEN,
        subjectJti: decision.assertionJti,
        actorJti: undefined,
      })
      const claims = buildAccessTokenClaims(asExchangeDecision, { issuer: exchangePolicy.issuer })
      const accessToken = await minter.mint(claims, ACCESS_TOKEN_HEADER, asExchangeDecision)
      if (typeof accessToken !== 'string' || accessToken === '') {
        throw new ServerError({ detail: 'minter returned no token' })
      }
      event.issuedJti = claims.jti
      response = Object.freeze({
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: decision.exp - decision.iat,
        ...(decision.scopes.length > 0 ? { scope: decision.scopes.join(' ') } : {}),
      })
      event.outcome = 'issued'
    } catch (err) {
      failure =
        err instanceof OAuthError
          ? err
          : new ServerError({
              detail: `unexpected ${err instanceof Error ? err.name : typeof err}`,
              cause: err,
            })
      event.error = failure.error
      event.reason = failure.detail
    }
    try {
      audit(
        Object.freeze(
          Object.fromEntries(Object.entries(event).filter(([, v]) => v !== undefined)),
        ) as unknown as FederationAuditEvent,
      )
    } catch (cause) {
      throw new ServerError({ detail: 'audit sink failed', cause })
    }
    if (failure !== undefined) throw failure
    return response!
  }

  return Object.freeze({ reissue })
}
