/**
 * decide: the single decision point of the RFC 8693 grant (lesson S5). Every policy rule of an
 * exchange is a check in this file; verified inputs → a frozen `ExchangeDecision`, no token is
 * built here.
 *
 * Order: the client may exchange (`checkClientMayExchange`, `unauthorized_client`; run once, by the
 * authenticate stage, before any token is touched — Spring's order) → the subject token is addressed
 * to the requester (S2) → DPoP binding kept or added, never lost (dpop_binding.ts) → one target,
 * configured and allowed for the client (S1, `invalid_target`) → scopes within subject ∩ client
 * ceiling ∩ target (S15, `invalid_scope`) → actor chain built, depth-capped, cycle-free (S14, S18)
 * → lifetime never beyond subject or actor (S17).
 *
 * Choices (documented here because peers differ):
 * - No `audience`/`resource` in the request: the client's single allowed audience is used if it has
 *   exactly one; otherwise `invalid_target` (the server will not pick a target for the client).
 *   All target faults (unknown, not allowed, several, none) share one description.
 * - Delegation: `act = { sub: requester client_id, iss: our issuer, act: subject's chain }` — the
 *   subject's existing chain is kept and extended, never dropped (S18). An actor token, when sent,
 *   was already proven to identify the requester (validate_actor.ts).
 * - Impersonation: no new actor is added, but an existing `act` chain of the subject is kept
 *   untouched: impersonation must not launder a delegated token into a plain user token.
 * - Provenance over syntax (`decideMode`): a subject carrying `may_act`, or a request with an
 *   actor token, is always a delegation, whatever the client's mode — so no combination of
 *   parameters (actor token or none, any `requested_token_type`, `audience` or `resource`)
 *   turns a token carrying `act` or `may_act` into one with neither. `may_act` itself is not
 *   copied: the party it named now acts, and `act` records it (RFC 8693 §4.4 → §4.1).
 * - Chain depth counts the nested `act` levels of the issued token; any `sub` repeated in the
 *   chain (including the requester already present) is a cycle. Both → `invalid_request`.
 *
 * @example
 * ```ts
 * const client = checkClientMayExchange(policy, authenticatedClient)
 * const decision = decideExchange({ request, client, subject, actor, policy, now })
 * ```
 */
import {
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  SUBJECT_TOKEN_INVALID,
  UnauthorizedClient,
} from '../errors.js'
import { issuerProfileFor, upstreamClientIdsOf } from '../issuer_profile.js'
import type { ClientExchangePolicy, ExchangePolicy, TargetPolicy } from '../policy.js'
import type { ActClaim, AuthenticatedClient, VerifiedToken } from '../types.js'
import type {
  ExchangeClient,
  ExchangeDecision,
  ExchangeRequest,
  VerifiedActor,
  VerifiedProof,
  VerifiedSubject,
} from './types.js'
import { decideBinding } from './dpop_binding.js'

export interface DecideInput {
  readonly request: ExchangeRequest
  readonly client: ExchangeClient
  readonly subject: VerifiedSubject
  readonly actor: VerifiedActor | undefined
  /** The verified DPoP proof of the request, if one was sent. */
  readonly proof?: VerifiedProof | undefined
  readonly policy: ExchangePolicy
  /** Current time in whole seconds. */
  readonly now: number
}

export function decideExchange(input: DecideInput): ExchangeDecision {
  const { request, client, subject, actor, proof, policy, now } = input
  const clientPolicy = client.policy
  checkSubjectAddressedTo(
    subject,
    upstreamClientIdsOf(issuerProfileFor(policy.issuers, subject.iss), client.clientId),
  )
  // Right after who may present the token: a bound token without its key is refused as such,
  // whatever target, scope or chain the request names (no other answer hints at what would pass).
  const jkt = decideBinding({ subject, actor, proof, client })
  const target = resolveTarget(request, policy, clientPolicy)
  checkTargetAllowed(target, clientPolicy)
  const scopes = decideScopes(
    request.scopes,
    subject.scopes,
    clientPolicy.scopeCeiling,
    target.scopes,
  )

  const mode = decideMode(clientPolicy.mode, subject, actor)
  const act =
    mode === 'delegation'
      ? buildDelegationChain({ sub: client.clientId, iss: policy.issuer }, subject.act)
      : subject.act
  checkChainDepth(act, policy.maxChainDepth)
  checkChainCycles(act)

  const exp = decideExpiry({
    subjectExp: subject.exp,
    actorExp: actor?.exp,
    lifetimeCaps: [clientPolicy.maxLifetimeSeconds, policy.maxLifetimeSeconds],
    now,
  })

  const decision = {
    mode,
    sub: subject.sub,
    audience: target.audience,
    clientId: client.clientId,
    scopes,
    act,
    iat: now,
    exp,
    issuedTokenType: request.requestedTokenType,
    subjectJti: subject.jti,
    actorJti: actor?.jti,
    jkt,
  }
  return Object.freeze(decision) as ExchangeDecision
}

/**
 * Provenance over syntax (Keycloak #52691): what the tokens carry decides, not which parameters
 * were sent. A subject with `may_act` was handed to a named party to act with (validate_actor.ts
 * checked the acting party against it), and a request with an actor token names an actor: both
 * are delegations whatever the client's configured mode, so the issued `act` records the
 * requester. Only a plain subject without an actor token is impersonated — and even then an `act`
 * chain the subject carries is kept untouched.
 */
export function decideMode(
  configured: ExchangeDecision['mode'],
  subject: Pick<VerifiedSubject, 'mayAct'>,
  actor: VerifiedActor | undefined,
): ExchangeDecision['mode'] {
  if (subject.mayAct !== undefined || actor !== undefined) return 'delegation'
  return configured
}

/** The client has an exchange policy and it is switched on; returns the client with its policy. */
export function checkClientMayExchange(
  policy: Pick<ExchangePolicy, 'clients'>,
  client: AuthenticatedClient,
): ExchangeClient {
  const clientPolicy = policy.clients.get(client.clientId)
  if (clientPolicy === undefined) {
    throw new UnauthorizedClient({ detail: 'client has no token exchange policy' })
  }
  if (!clientPolicy.enabled) {
    throw new UnauthorizedClient({ detail: 'token exchange is disabled for the client' })
  }
  const authorized = {
    clientId: client.clientId,
    authMethod: client.authMethod,
    policy: clientPolicy,
  }
  return Object.freeze(authorized) as ExchangeClient
}

/**
 * Lesson S2: the requester may only exchange a token that was issued to or for it. `clientIds` are
 * the requester's names at the subject's issuer (its own client_id unless the issuer maps ids).
 */
export function checkSubjectAddressedTo(
  subject: Pick<VerifiedToken, 'aud' | 'azp' | 'clientId'>,
  clientIds: string | readonly string[],
): void {
  for (const clientId of typeof clientIds === 'string' ? [clientIds] : clientIds) {
    if (
      subject.aud.includes(clientId) ||
      subject.azp === clientId ||
      subject.clientId === clientId
    ) {
      return
    }
  }
  throw new InvalidRequest({
    description: SUBJECT_TOKEN_INVALID,
    detail: 'subject token is not addressed to the requesting client',
  })
}

/**
 * RFC 8693 §2.1, RFC 8707: every `audience` names a target, every `resource` is one of a target's
 * URIs, and together they name exactly one target.
 */
export function resolveTarget(
  request: Pick<ExchangeRequest, 'audiences' | 'resources'>,
  policy: Pick<ExchangePolicy, 'targets'>,
  clientPolicy: Pick<ClientExchangePolicy, 'allowedAudiences'>,
): TargetPolicy {
  const resolved = new Set<TargetPolicy>()
  for (const audience of request.audiences) {
    const target = policy.targets.get(audience)
    if (target === undefined)
      throw new InvalidTarget({ detail: 'audience is not a configured target' })
    resolved.add(target)
  }
  for (const resource of request.resources) {
    const target = findTargetByResource(policy, resource)
    if (target === undefined)
      throw new InvalidTarget({ detail: 'resource is not a configured target' })
    resolved.add(target)
  }
  if (resolved.size > 1)
    throw new InvalidTarget({ detail: `request names ${resolved.size} targets` })
  const [only] = resolved
  if (only !== undefined) return only

  const [fallback, ...others] = clientPolicy.allowedAudiences
  const target = fallback === undefined ? undefined : policy.targets.get(fallback)
  if (target === undefined || others.length > 0) {
    throw new InvalidTarget({ detail: 'no target requested and the client has no single default' })
  }
  return target
}

function findTargetByResource(
  policy: Pick<ExchangePolicy, 'targets'>,
  resource: string,
): TargetPolicy | undefined {
  for (const target of policy.targets.values()) {
    if (target.resourceUris.includes(resource)) return target
  }
  return undefined
}

/** Lesson S1: a client exchanges only toward the audiences its policy lists. */
export function checkTargetAllowed(
  target: TargetPolicy,
  clientPolicy: Pick<ClientExchangePolicy, 'allowedAudiences'>,
): void {
  if (!clientPolicy.allowedAudiences.includes(target.audience)) {
    throw new InvalidTarget({ detail: `target ${target.audience} is not allowed for the client` })
  }
}

/**
 * Lesson S15: scopes ⊆ subject ∩ client ceiling ∩ target. Nothing requested → the whole
 * intersection; an empty result is `invalid_scope`.
 */
export function decideScopes(
  requested: readonly string[] | undefined,
  subjectScopes: readonly string[],
  ceiling: readonly string[],
  targetScopes: readonly string[],
): readonly string[] {
  if (requested === undefined) {
    const granted = subjectScopes.filter(
      (scope) => ceiling.includes(scope) && targetScopes.includes(scope),
    )
    if (granted.length === 0) {
      throw new InvalidScope({ detail: 'subject, client ceiling and target share no scope' })
    }
    return Object.freeze([...new Set(granted)])
  }
  for (const scope of requested) {
    if (!subjectScopes.includes(scope)) {
      throw new InvalidScope({ detail: `scope ${scope} is not granted by the subject token` })
    }
    if (!ceiling.includes(scope)) {
      throw new InvalidScope({ detail: `scope ${scope} exceeds the client's scope ceiling` })
    }
    if (!targetScopes.includes(scope)) {
      throw new InvalidScope({ detail: `scope ${scope} is not offered by the target` })
    }
  }
  return requested
}

/** RFC 8693 §4.1: the current actor is outermost, prior actors nest inside (lesson S18). */
export function buildDelegationChain(
  current: { readonly sub: string; readonly iss: string },
  previous: ActClaim | undefined,
): ActClaim {
  return Object.freeze(
    previous === undefined
      ? { sub: current.sub, iss: current.iss }
      : { sub: current.sub, iss: current.iss, act: previous },
  )
}

export function chainDepth(act: ActClaim | undefined): number {
  let depth = 0
  for (let level = act; level !== undefined; level = level.act) depth++
  return depth
}

/** Lesson S14: cap the nesting of `act`. */
export function checkChainDepth(act: ActClaim | undefined, maxChainDepth: number): void {
  const depth = chainDepth(act)
  if (depth > maxChainDepth) {
    throw new InvalidRequest({
      description: SUBJECT_TOKEN_INVALID,
      detail: `actor chain depth ${depth} exceeds ${maxChainDepth}`,
    })
  }
}

/**
 * Lesson S17: the new token never outlives the subject or actor token, nor any lifetime cap (the
 * client's, the engine's). No lifetime left is `invalid_request`.
 */
export function decideExpiry(input: {
  readonly subjectExp: number
  readonly actorExp: number | undefined
  /** Longest lifetimes allowed, seconds. */
  readonly lifetimeCaps: readonly number[]
  readonly now: number
}): number {
  const { subjectExp, actorExp, lifetimeCaps, now } = input
  const exp = Math.floor(
    Math.min(
      subjectExp,
      actorExp ?? Number.POSITIVE_INFINITY,
      ...lifetimeCaps.map((seconds) => now + seconds),
    ),
  )
  if (exp <= now) {
    throw new InvalidRequest({
      description: SUBJECT_TOKEN_INVALID,
      detail: 'no lifetime left: subject or actor token expires now',
    })
  }
  return exp
}

/** Lesson S14: no party appears twice in a chain (a requester already in it, A→B→A loops). */
export function checkChainCycles(act: ActClaim | undefined): void {
  const seen = new Set<string>()
  for (let level = act; level !== undefined; level = level.act) {
    if (seen.has(level.sub)) {
      throw new InvalidRequest({
        description: SUBJECT_TOKEN_INVALID,
        detail: `actor chain has a cycle: ${level.sub} appears twice`,
      })
    }
    seen.add(level.sub)
  }
}
