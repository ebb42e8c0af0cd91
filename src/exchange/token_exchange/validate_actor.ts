/**
 * validate (2/2): optional actor token → `VerifiedActor | undefined`, and the subject's `may_act`
 * (RFC 8693 §2.1 actor_token, §4.4 may_act; lessons S7, S8).
 *
 * An actor token passes the same verification as a subject token (signed, `at+jwt`, trusted
 * issuer, in time, active) and must identify the authenticated client: its `sub` is the requester's
 * client_id or one of the client's declared `serviceIdentities`. So a token of some unrelated
 * party cannot be spliced into the request. When the subject carries `may_act`, the acting party —
 * the actor token's `sub`/`iss`, or with no actor token the requester itself under our issuer —
 * must match `may_act.sub` and `may_act.iss` where present (as Spring Authorization Server does).
 *
 * @example
 * ```ts
 * const actor = await validateActorToken(request, subject, client, { verifier, subjectStatus, policy, now })
 * ```
 */
import type { MayActClaim } from '../types.js'
import {
  tokenInvalid,
  verifyAccessToken,
  type TokenValidationDeps,
} from '../verify_access_token.js'
import type { ExchangeClient, ExchangeRequest, VerifiedActor, VerifiedSubject } from './types.js'

export async function validateActorToken(
  request: ExchangeRequest,
  subject: VerifiedSubject,
  client: ExchangeClient,
  deps: TokenValidationDeps & { readonly policy: { readonly issuer: string } },
): Promise<VerifiedActor | undefined> {
  let actor: VerifiedActor | undefined
  if (request.actorToken !== undefined) {
    actor = (await verifyAccessToken(request.actorToken, 'actor', deps)) as VerifiedActor
    checkActorIsClient(actor.sub, client.clientId, client.policy.serviceIdentities)
  }
  if (client.policy.requireMayAct && subject.mayAct === undefined) {
    // An agent acts only on the user's delegation, which the subject token carries as may_act.
    throw tokenInvalid('subject', 'carries no may_act: the user has not delegated to this client')
  }
  if (subject.mayAct !== undefined) {
    if (actor !== undefined) {
      checkMayAct(subject.mayAct, { sub: actor.sub, iss: actor.iss }, 'actor')
    } else {
      // No actor token: the requester itself acts, authenticated by us.
      checkMayAct(subject.mayAct, { sub: client.clientId, iss: deps.policy.issuer }, 'subject')
    }
  }
  return actor
}

/** Lesson S8: the actor is the authenticated client, or one of its declared service identities. */
export function checkActorIsClient(
  actorSub: string,
  clientId: string,
  serviceIdentities: readonly string[],
): void {
  if (actorSub !== clientId && !serviceIdentities.includes(actorSub)) {
    throw tokenInvalid('actor', 'does not identify the authenticated client')
  }
}

/**
 * RFC 8693 §4.4: may_act names who may act for the subject. The acting party must match each
 * member present. A mismatch is blamed on the actor token when there is one, else on the subject.
 */
export function checkMayAct(
  mayAct: MayActClaim,
  acting: { readonly sub: string; readonly iss: string },
  blame: 'subject' | 'actor',
): void {
  if (mayAct.sub !== undefined && mayAct.sub !== acting.sub) {
    throw tokenInvalid(
      blame,
      `${blame === 'actor' ? 'sub' : 'requester'} is not named in may_act.sub`,
    )
  }
  if (mayAct.iss !== undefined && mayAct.iss !== acting.iss) {
    throw tokenInvalid(
      blame,
      `${blame === 'actor' ? 'iss' : 'requester issuer'} is not may_act.iss`,
    )
  }
}
