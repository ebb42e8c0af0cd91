/**
 * The RFC 8693 token exchange grant, shared by the OP's extension grant (`src/idp/`) and the STS.
 * Its stages, run in this order by the audited runner (../runner.ts):
 *
 *   parse         form parameters → ExchangeRequest (syntax, limits; S4)         parse_request.ts
 *   authenticate  the edge's client is confidential (S6) and may exchange at all
 *                 (unauthorized_client) → ExchangeClient, before any token is touched  decide.ts
 *   validate      subject_token → VerifiedSubject (signature, typ, claims, time, active), then
 *                 actor_token → VerifiedActor | undefined, actor is the client, may_act
 *                                                     validate_subject.ts, validate_actor.ts
 *   decide        the single policy decision → ExchangeDecision (S1, S2, S14, S15, S17, S18)
 *                                                                               decide.ts
 *   mint          ExchangeDecision → RFC 9068 claims → the TokenMinter           claims.ts
 *   respond       → RFC 8693 §2.2.1 body (no refresh token; S16)                 respond.ts
 *
 * `createTokenExchange` is the library entry point: this grant under its own runner.
 *
 * @example
 * ```ts
 * const engine = createTokenExchange({ policy, verifier, subjectStatus, minter, audit })
 * const body = await engine.exchange({ params: request.body, client })
 * ```
 */
import type { AuditSink, TokenExchangeAuditEvent } from '../audit.js'
import { checkConfidentialClient } from '../authenticate_client.js'
import type { Grant } from '../grant.js'
import type { JwsVerifier } from '../../jws/verify_jws.js'
import type { TokenMinter } from '../mint.js'
import type { ExchangePolicy } from '../policy.js'
import { createGrantRunner } from '../runner.js'
import type { Clock } from '../../time/clock.js'
import type { TokenStatus, TokenValidationDeps } from '../verify_access_token.js'
import { buildExchangeClaims } from './claims.js'
import { checkClientMayExchange, decideExchange } from './decide.js'
import { readDpopProof, validateDpopProof, type DpopBindingDeps } from './dpop_binding.js'
import { createDpopReplayCache } from '../../jwt/dpop_proof.js'
import { parseExchangeRequest } from './parse_request.js'
import { buildExchangeResponse } from './respond.js'
import {
  GRANT_TYPE_TOKEN_EXCHANGE,
  type ExchangeClient,
  type ExchangeDecision,
  type ExchangeInput,
  type ExchangeRequest,
  type ExchangeResponse,
  type VerifiedExchange,
} from './types.js'
import { validateActorToken } from './validate_actor.js'
import { validateSubjectToken } from './validate_subject.js'

export interface TokenExchangeGrantDeps {
  readonly policy: ExchangePolicy
  readonly verifier: JwsVerifier
  /** Checks subject and actor tokens are still live (issued, not revoked, grant alive). */
  readonly subjectStatus: TokenStatus
  /**
   * DPoP proofs (RFC 9449): the replay cache, one per token service (default: a fresh one of this
   * process), and the nonce source for clients whose policy says `dpop.nonce`.
   */
  readonly dpop?: Partial<DpopBindingDeps>
}

export type TokenExchangeGrant = Grant<{
  input: ExchangeInput
  request: ExchangeRequest
  requester: ExchangeClient
  verified: VerifiedExchange
  decision: ExchangeDecision
  response: ExchangeResponse
  event: TokenExchangeAuditEvent
}>

export function createTokenExchangeGrant(deps: TokenExchangeGrantDeps): TokenExchangeGrant {
  const { policy, verifier, subjectStatus } = deps
  const dpop: DpopBindingDeps = {
    replay: deps.dpop?.replay ?? createDpopReplayCache(),
    ...(deps.dpop?.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: deps.dpop.maxAgeSeconds }),
    ...(deps.dpop?.nonces === undefined ? {} : { nonces: deps.dpop.nonces }),
  }
  if (policy === undefined || policy.clients === undefined) {
    throw new TypeError('createTokenExchange: policy is required (createExchangePolicy)')
  }
  if (typeof verifier?.verify !== 'function') {
    throw new TypeError('createTokenExchange: verifier is required (createJwsVerifier)')
  }
  if (typeof subjectStatus?.isActive !== 'function') {
    throw new TypeError('createTokenExchange: subjectStatus.isActive is required')
  }
  const nonceClients = [...policy.clients.values()].filter((client) => client.dpop.nonce)
  if (nonceClients.length > 0 && dpop.nonces === undefined) {
    throw new TypeError(
      `createTokenExchange: clients.${nonceClients[0]!.clientId}.tokenExchange.dpop.nonce needs dpop.nonces (createDpopNonces)`,
    )
  }

  return Object.freeze({
    event: 'token_exchange',
    grantType: GRANT_TYPE_TOKEN_EXCHANGE,
    parameters: new Set([
      'subject_token',
      'subject_token_type',
      'actor_token',
      'actor_token_type',
      'requested_token_type',
      'audience',
      'resource',
      'scope',
    ]),
    // RFC 8693 §2.1: only `audience` and `resource` may appear more than once.
    allowedDuplicateParameters: new Set(['audience', 'resource']),
    requesterOf: (input) => input?.client?.clientId,
    parse: (input) => parseExchangeRequest(input.params, policy.limits, readDpopProof(input.dpop)),
    authenticate: (_request, input) =>
      checkClientMayExchange(policy, checkConfidentialClient(input.client)),
    async validate(request, client, context) {
      const tokenDeps: TokenValidationDeps & { policy: ExchangePolicy } = {
        verifier,
        // A bound subject or actor token passes here; decide refuses it without a proof from its
        // key (decideBinding, dpop_binding.ts).
        boundTokens: 'proof_checked',
        subjectStatus,
        policy,
        now: context.now,
      }
      const subject = await validateSubjectToken(request, tokenDeps)
      context.note({ subjectSub: subject.sub, subjectJti: subject.jti })
      const actor = await validateActorToken(request, subject, client, tokenDeps)
      context.note({ actorSub: actor?.sub, actorJti: actor?.jti })
      // After the tokens: a replayed proof is only ever counted for a request that could succeed.
      const proof = await validateDpopProof(request, client, dpop, context.now)
      return { request, client, subject, actor, proof }
    },
    decide(verified, context) {
      const decision = decideExchange({ ...verified, policy, now: context.now })
      context.note({ audience: decision.audience, scopes: decision.scopes, dpopJkt: decision.jkt })
      return decision
    },
    mint: (decision) => ({
      claims: buildExchangeClaims(decision, { issuer: policy.issuer }),
      derivedFromJti: decision.subjectJti,
    }),
    respond: (decision, accessToken) =>
      buildExchangeResponse({ accessToken: accessToken!, decision }),
  } satisfies TokenExchangeGrant)
}

export interface TokenExchangeDeps extends TokenExchangeGrantDeps {
  readonly minter: TokenMinter
  readonly audit: AuditSink<TokenExchangeAuditEvent>
  /** Defaults to the system clock. */
  readonly now?: Clock
}

export interface TokenExchange {
  exchange(input: ExchangeInput): Promise<ExchangeResponse>
}

/** The RFC 8693 grant under its own audited runner: one audit event per `exchange` call. */
export function createTokenExchange(deps: TokenExchangeDeps): TokenExchange {
  const grant = createTokenExchangeGrant(deps)
  const runner = createGrantRunner({ minter: deps.minter, audit: deps.audit, now: deps.now })
  return Object.freeze({ exchange: (input: ExchangeInput) => runner.run(grant, input) })
}
