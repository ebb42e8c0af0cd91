/**
 * The RFC 8693 §4.1 `act` (actor) claim, read the same way by the exchange engine and the
 * resource-server kit: `{ sub, iss?, act? }` per level, the current actor outermost, earlier actors
 * nested inside. Other members of a level are dropped.
 *
 * One nesting cap for every reader, `MAX_ACT_NESTING` = 8. RFC 8693 sets no limit; lesson S14 asks
 * for one, so parsing work and token size stay bounded. 8 is twice the engine's default
 * `maxChainDepth` (4; the demo's A → B → C chain uses 2), and the engine's policy cannot allow more
 * (`maxChainDepth` ≤ `MAX_ACT_NESTING`), so every token onbehalf can issue is readable by every
 * onbehalf resource server.
 *
 * @example
 * ```ts
 * const act = parseActClaim(payload.act) // AccessTokenClaimsError when malformed or too deep
 * const chain = actorChainOf(act)        // ['app-b', 'app-a']
 * ```
 */
import { AccessTokenClaimsError } from './access_token_claims.js'

/** RFC 8693 §4.1: the acting party; a nested `act` records the prior actor. */
export interface ActClaim {
  readonly sub: string
  readonly iss?: string
  readonly act?: ActClaim
}

export const MAX_ACT_NESTING = 8

/** Parses a present `act` claim; throws `AccessTokenClaimsError` (claim `act`) when it is not one. */
export function parseActClaim(value: unknown, depth = 1): ActClaim {
  if (depth > MAX_ACT_NESTING) {
    throw new AccessTokenClaimsError('act', 'act_depth', 'is nested too deeply')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AccessTokenClaimsError('act', 'format', 'is not an object')
  }
  const record = value as Record<string, unknown>
  if (typeof record.sub !== 'string' || record.sub === '') {
    throw new AccessTokenClaimsError('act', 'format', 'has no sub')
  }
  if (record.iss !== undefined && typeof record.iss !== 'string') {
    throw new AccessTokenClaimsError('act', 'format', 'iss is not a string')
  }
  const act: { sub: string; iss?: string; act?: ActClaim } = { sub: record.sub }
  if (record.iss !== undefined) act.iss = record.iss
  if (record.act !== undefined) act.act = parseActClaim(record.act, depth + 1)
  return Object.freeze(act)
}

/** The actors' `sub`s, outermost (current) first; empty without `act`. */
export function actorChainOf(act: ActClaim | undefined): readonly string[] {
  const chain: string[] = []
  for (let level = act; level !== undefined; level = level.act) chain.push(level.sub)
  return Object.freeze(chain)
}
