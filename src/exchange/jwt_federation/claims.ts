/**
 * mint: `FederationDecision` → the RFC 9068 claims of the re-issued token: `aud` = `azp` =
 * `client_id` = the target, the same `sub` (or the generated service account), no `act` — nothing
 * records who asked, which is the pattern's flaw onbehalf shows.
 *
 * @example
 * ```ts
 * const claims = buildFederationClaims(decision, { issuer })
 * ```
 */
import { randomUUID } from 'node:crypto'
import type { AccessTokenClaims } from '../mint.js'
import type { FederationDecision } from './types.js'

export function buildFederationClaims(
  decision: FederationDecision,
  options: { readonly issuer: string; readonly jti?: string },
): AccessTokenClaims {
  return Object.freeze({
    iss: options.issuer,
    sub: decision.sub,
    aud: decision.clientId,
    client_id: decision.clientId,
    azp: decision.clientId,
    scope: decision.scopes.join(' '),
    iat: decision.iat,
    exp: decision.exp,
    jti: options.jti ?? randomUUID(),
  })
}
