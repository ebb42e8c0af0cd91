/**
 * mint: `ExchangeDecision` → the RFC 9068 claims of the exchanged token. `iss`, `sub`, `aud` (the
 * one target, a string), `client_id` and `azp` (the requester, RFC 8693 §4.3), `act` in
 * delegation, nested with the current actor outermost and `iss`/`sub` per level (RFC 8693 §4.1),
 * `scope`, `iat`, `exp`, a random `jti`, and `cnf.jkt` when the decision binds the token (RFC 9449
 * §6). The header (`typ: at+jwt`) is the minter's.
 *
 * @example
 * ```ts
 * const claims = buildExchangeClaims(decision, { issuer })
 * ```
 */
import { randomUUID } from 'node:crypto'
import type { AccessTokenClaims } from '../mint.js'
import type { ExchangeDecision } from './types.js'

export function buildExchangeClaims(
  decision: ExchangeDecision,
  options: { readonly issuer: string; readonly jti?: string },
): AccessTokenClaims {
  return Object.freeze({
    iss: options.issuer,
    sub: decision.sub,
    aud: decision.audience,
    client_id: decision.clientId,
    azp: decision.clientId,
    ...(decision.act === undefined ? {} : { act: decision.act }),
    ...(decision.jkt === undefined ? {} : { cnf: { jkt: decision.jkt } }),
    scope: decision.scopes.join(' '),
    iat: decision.iat,
    exp: decision.exp,
    jti: options.jti ?? randomUUID(),
  })
}
