/**
 * Verdicts computed from what really happened: the issued token's claims and the token request
 * that produced it. Nothing here is written per path by hand.
 */
import type { PathVerdicts, TokenRequestRecord, Verdict } from './types.js'

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)

/** The user is bound when the issued token's `sub` is the user's `sub`. */
export function userBoundVerdict(
  issued: Record<string, unknown>,
  userSub: string | undefined,
): Verdict {
  const sub = str(issued.sub)
  if (sub !== undefined && sub === userSub) {
    return { ok: true, reason: `sub = ${sub}: the user is in the signed token` }
  }
  const clientId = str(issued.client_id)
  if (sub !== undefined && sub === clientId) {
    return { ok: false, reason: `sub = ${sub}: the service itself; the user is not in the token` }
  }
  return { ok: false, reason: `sub = ${sub ?? '(none)'}, not the user (${userSub ?? 'unknown'})` }
}

/** The acting service is recorded when the outermost `act.sub` names it (RFC 8693 §4.1). */
export function actorRecordedVerdict(issued: Record<string, unknown>, actor: string): Verdict {
  const act = issued.act as { sub?: unknown } | undefined
  const actSub = act && typeof act === 'object' ? str(act.sub) : undefined
  if (actSub === actor) return { ok: true, reason: `act.sub = ${actSub}` }
  const clientId = str(issued.client_id) ?? str(issued.azp)
  if (actSub !== undefined) return { ok: false, reason: `act.sub = ${actSub}, not ${actor}` }
  return {
    ok: false,
    reason:
      clientId === actor
        ? `no act; ${actor} appears only as the token's own client, not as acting for a user`
        : `no act; client_id = ${clientId ?? '(none)'}: nothing names ${actor}`,
  }
}

/** The requester authenticated when the successful token request carried client credentials. */
export function requesterAuthenticatedVerdict(
  request: TokenRequestRecord,
  clientId: string,
): Verdict {
  if (request.clientAuth !== 'none') {
    return { ok: true, reason: `${clientId} authenticated with ${request.clientAuth}` }
  }
  return {
    ok: false,
    reason: `no client secret sent, yet the IdP answered ${request.status}: holding the token was enough`,
  }
}

export function computeVerdicts(options: {
  readonly issued: Record<string, unknown>
  readonly userSub: string | undefined
  readonly actor: string
  readonly request: TokenRequestRecord
}): PathVerdicts {
  return {
    userBound: userBoundVerdict(options.issued, options.userSub),
    actorRecorded: actorRecordedVerdict(options.issued, options.actor),
    requesterAuthenticated: requesterAuthenticatedVerdict(options.request, options.actor),
  }
}
