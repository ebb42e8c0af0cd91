/**
 * Small named checks over verified claims. Each throws one `ResourceAuthError` or returns the value
 * it read. They run only after the signature and the registered claims were checked
 * (jwt_claims.ts).
 */
import type { JWTPayload } from 'jose'
import { AccessTokenClaimsError, readScopeClaim } from '../jwt/access_token_claims.js'
import { actorChainOf, parseActClaim } from '../jwt/act_claim.js'
import { ResourceAuthError } from './errors.js'
import { fromClaimsError } from './jwt_claims.js'

/**
 * RFC 8693 §4.1: `act` names the current actor; an `act` inside it records an earlier actor.
 * Returns the chain of actor `sub`s, outermost (current) first; empty without `act`. Deeper than
 * `MAX_ACT_NESTING` (src/jwt/act_claim.ts, the engine's cap too) is refused.
 */
export function parseActorChain(claims: JWTPayload): string[] {
  if (claims.act === undefined) return []
  try {
    return [...actorChainOf(parseActClaim(claims.act))]
  } catch (err) {
    if (!(err instanceof AccessTokenClaimsError)) throw err
    throw new ResourceAuthError('invalid_token', {
      detail: err.reason === 'act_depth' ? 'act chain too deep' : 'act claim malformed',
    })
  }
}

/** RFC 9068 §2.2.3: `scope` is one space-delimited string. */
export function parseScopes(claims: JWTPayload): string[] {
  try {
    return [...(readScopeClaim(claims) ?? [])]
  } catch (err) {
    if (err instanceof AccessTokenClaimsError) throw fromClaimsError(err, claims)
    throw err
  }
}

/**
 * The caller policy. The caller is the current actor (`act.sub`) when the token is delegated, else
 * the client the token was issued to. RFC 8693 §4.1: only top-level claims and the outermost actor
 * count, so with `act` the requesting client (`azp`/`client_id`) must be allowed as well; nested
 * actors are informational.
 */
export function checkCallerAllowed(
  parties: { caller: string; clientId: string; azp: string },
  allowedCallers: ReadonlySet<string> | undefined,
): void {
  if (allowedCallers === undefined) return
  for (const [role, party] of [
    ['caller', parties.caller],
    ['client_id', parties.clientId],
    ['azp', parties.azp],
  ] as const) {
    if (!allowedCallers.has(party)) {
      throw new ResourceAuthError('insufficient_scope', { detail: `${role} ${party} not allowed` })
    }
  }
}

/** Every required scope must be granted. */
export function checkScopes(granted: readonly string[], required: readonly string[]): void {
  const missing = required.filter((scope) => !granted.includes(scope))
  if (missing.length > 0) {
    throw new ResourceAuthError('insufficient_scope', {
      detail: `missing scope ${missing.join(' ')}`,
      requiredScopes: required,
    })
  }
}
