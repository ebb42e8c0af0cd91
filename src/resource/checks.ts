/**
 * Small named checks over verified claims. Each throws one `ResourceAuthError` or returns the value
 * it read. They run only after jose has verified the signature, `typ`, `iss`, `aud` and the clock.
 */
import type { JWTPayload } from 'jose'
import { ResourceAuthError } from './errors.js'

/** Deepest `act` nesting read before the token is refused (RFC 8693 §4.1 sets no limit; S14). */
export const MAX_ACTOR_CHAIN_DEPTH = 8

function invalidToken(detail: string): never {
  throw new ResourceAuthError('invalid_token', { detail })
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A claim that must be a non-empty string. */
export function checkStringClaim(claims: JWTPayload, name: string): string {
  const value = claims[name]
  if (typeof value !== 'string' || value.length === 0)
    invalidToken(`claim ${name} missing or not a string`)
  return value
}

/** An optional claim that, when present, must be a non-empty string. */
export function parseOptionalStringClaim(claims: JWTPayload, name: string): string | undefined {
  return claims[name] === undefined ? undefined : checkStringClaim(claims, name)
}

/**
 * RFC 8693 §4.1: `act` names the current actor; an `act` inside it records an earlier actor.
 * Returns the chain of actor `sub`s, outermost (current) first; empty without `act`.
 */
export function parseActorChain(claims: JWTPayload): string[] {
  const chain: string[] = []
  let act: unknown = claims.act
  while (act !== undefined) {
    if (chain.length === MAX_ACTOR_CHAIN_DEPTH) invalidToken('act chain too deep')
    if (!isObject(act) || typeof act.sub !== 'string' || act.sub.length === 0) {
      invalidToken('act claim malformed')
    }
    chain.push(act.sub)
    act = act.act
  }
  return chain
}

/** RFC 9068 §2.2.3: `scope` is one space-delimited string. */
export function parseScopes(claims: JWTPayload): string[] {
  const scope = claims.scope
  if (scope === undefined) return []
  if (typeof scope !== 'string') invalidToken('claim scope not a string')
  return scope.split(' ').filter((s) => s.length > 0)
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
