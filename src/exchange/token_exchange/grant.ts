/**
 * The RFC 8693 token exchange engine: one entry point shared by the OP's extension grant
 * (`src/idp/`) and the STS, free of Fastify and Koa. Stages, in order, each taking the previous
 * stage's output:
 *
 *   0. the caller authenticated a confidential client (`AuthenticatedClient`; S6)
 *   1. parse_request      form parameters → ExchangeRequest (syntax, limits; S4)
 *   2. decide (early)     the client may use token exchange at all (unauthorized_client), before
 *                         any token is touched — Spring's order; decideExchange checks it again
 *   3. validate_subject   subject_token → VerifiedSubject (signature, typ, claims, time, active)
 *   4. validate_actor     actor_token → VerifiedActor | undefined, actor is the client, may_act
 *   5. decide             the single policy decision → ExchangeDecision (S1, S2, S14, S15, S17, S18)
 *   6. mint               ExchangeDecision → RFC 9068 claims → TokenMinter
 *   7. respond            → RFC 8693 §2.2.1 body (no refresh token; S16)
 *
 * Exactly one audit event per call. OAuth errors are rethrown as they are; anything else becomes a
 * `ServerError` whose description leaks nothing (the original stays as `cause` for server logs).
 *
 * @example
 * ```ts
 * const engine = createTokenExchange({ policy, verifier, subjectStatus, minter, audit })
 * const body = await engine.exchange({ params: request.body, client })
 * ```
 */
import type { AuditEvent, AuditSink } from './audit.js'
import { checkClientMayExchange, decideExchange } from './decide.js'
import { InvalidClient, OAuthError, ServerError } from './errors.js'
import type { JwsVerifier } from '../jws/verify_jws.js'
import { ACCESS_TOKEN_HEADER, buildAccessTokenClaims, type TokenMinter } from './mint.js'
import { parseExchangeRequest } from './parse_request.js'
import type { ExchangePolicy } from './policy.js'
import { buildExchangeResponse } from './respond.js'
import type { AuthenticatedClient, ExchangeParams, ExchangeResponse } from './types.js'
import { validateActorToken } from './validate_actor.js'
import { validateSubjectToken } from './validate_subject.js'
import type { TokenStatus, TokenValidationDeps } from './verify_access_token.js'

export interface TokenExchangeDeps {
  readonly policy: ExchangePolicy
  readonly verifier: JwsVerifier
  /** Checks subject and actor tokens are still live (issued, not revoked, grant alive). */
  readonly subjectStatus: TokenStatus
  readonly minter: TokenMinter
  readonly audit: AuditSink
  /** Current time in seconds; defaults to the system clock. */
  readonly now?: () => number
}

export interface ExchangeInput {
  readonly params: ExchangeParams
  readonly client: AuthenticatedClient
}

export interface TokenExchange {
  exchange(input: ExchangeInput): Promise<ExchangeResponse>
}

type AuditFields = { -readonly [K in keyof AuditEvent]: AuditEvent[K] }

export function createTokenExchange(deps: TokenExchangeDeps): TokenExchange {
  const { policy, verifier, subjectStatus, minter, audit } = deps
  if (policy === undefined || policy.clients === undefined) {
    throw new TypeError('createTokenExchange: policy is required (createExchangePolicy)')
  }
  if (typeof verifier?.verify !== 'function') {
    throw new TypeError('createTokenExchange: verifier is required (createJwsVerifier)')
  }
  if (typeof subjectStatus?.isActive !== 'function') {
    throw new TypeError('createTokenExchange: subjectStatus.isActive is required')
  }
  if (typeof minter?.mint !== 'function')
    throw new TypeError('createTokenExchange: minter is required')
  if (typeof audit !== 'function') throw new TypeError('createTokenExchange: audit is required')
  const clock = deps.now ?? (() => Date.now() / 1000)

  async function exchange({ params, client }: ExchangeInput): Promise<ExchangeResponse> {
    const event: AuditFields = {
      event: 'token_exchange',
      outcome: 'refused',
      clientId: typeof client?.clientId === 'string' ? client.clientId : '',
    }
    let response: ExchangeResponse | undefined
    let failure: OAuthError | undefined
    try {
      checkClientAuthenticated(client)
      const request = parseExchangeRequest(params, policy.limits)
      checkClientMayExchange(policy, client.clientId)

      const now = Math.floor(clock())
      const tokenDeps: TokenValidationDeps = { verifier, subjectStatus, policy, now }
      const subject = await validateSubjectToken(request, tokenDeps)
      event.subjectSub = subject.sub
      event.subjectJti = subject.jti
      const actor = await validateActorToken(request, subject, client, tokenDeps)
      event.actorSub = actor?.sub
      event.actorJti = actor?.jti

      const decision = decideExchange({ request, client, subject, actor, policy, now })
      event.audience = decision.audience
      event.scopes = decision.scopes

      const claims = buildAccessTokenClaims(decision, { issuer: policy.issuer })
      const accessToken = await minter.mint(claims, ACCESS_TOKEN_HEADER, decision)
      if (typeof accessToken !== 'string' || accessToken === '') {
        throw new ServerError({ detail: 'minter returned no token' })
      }
      event.issuedJti = claims.jti
      response = buildExchangeResponse({ accessToken, decision })
      event.outcome = 'issued'
    } catch (err) {
      failure =
        err instanceof OAuthError
          ? err
          : new ServerError({ detail: `unexpected ${describeError(err)}`, cause: err })
      event.error = failure.error
      event.reason = failure.detail
    }

    try {
      audit(stripUndefined(event))
    } catch (cause) {
      // No token leaves without its audit record.
      throw new ServerError({ detail: 'audit sink failed', cause })
    }
    if (failure !== undefined) throw failure
    return response!
  }

  return Object.freeze({ exchange })
}

/** Lesson S6: only confidential clients, authenticated by the caller, reach the engine. */
function checkClientAuthenticated(client: AuthenticatedClient | undefined): void {
  const method: string | undefined = client?.authMethod
  if (
    typeof client?.clientId !== 'string' ||
    client.clientId === '' ||
    !method ||
    method === 'none'
  ) {
    throw new InvalidClient({ detail: 'no authenticated confidential client' })
  }
}

/** The error's class name only: messages of foreign errors may quote input. */
function describeError(err: unknown): string {
  return err instanceof Error ? err.name : typeof err
}

function stripUndefined(event: AuditFields): AuditEvent {
  const clean: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(event)) if (value !== undefined) clean[key] = value
  return Object.freeze(clean) as unknown as AuditEvent
}
