/**
 * Stage 5: `ExchangeDecision` → token. Validation never builds tokens: the engine hands the claims
 * to a one-method `TokenMinter`, as Spring hands a context to `OAuth2TokenGenerator`.
 *
 * `buildAccessTokenClaims` shapes an RFC 9068 JWT access token: `iss`, `sub`, `aud` (the one
 * target, a string), `client_id` and `azp` (the requester, RFC 8693 §4.3), `act` in delegation
 * (RFC 8693 §4.1), `scope`, `iat`, `exp`, a random `jti`. The header is `typ: at+jwt`; `alg`/`kid`
 * come from the signer.
 *
 * @example
 * ```ts
 * const minter = createJwsMinter(createJwsSigner({ alg: 'ES256', kid, privateKey }))
 * const token = await minter.mint(buildAccessTokenClaims(decision, { issuer }), ACCESS_TOKEN_HEADER, decision)
 * ```
 */
import { randomUUID } from 'node:crypto'
import type { JwsSigner } from '../jws/sign_jws.js'
import type { ActClaim, ExchangeDecision } from './types.js'

export interface AccessTokenClaims {
  readonly iss: string
  readonly sub: string
  readonly aud: string
  readonly client_id: string
  readonly azp: string
  readonly act?: ActClaim
  readonly scope: string
  readonly iat: number
  readonly exp: number
  readonly jti: string
  readonly [claim: string]: unknown
}

/** RFC 9068 §2.1: the media type of JWT access tokens. */
export const ACCESS_TOKEN_HEADER: Readonly<Record<string, unknown>> = Object.freeze({
  typ: 'at+jwt',
})

export interface TokenMinter {
  /**
   * Turns claims into a token. `decision` is passed for bookkeeping (e.g. tying the new `jti` to the
   * subject token's grant); the claims are already final.
   */
  mint(
    claims: AccessTokenClaims,
    header: Readonly<Record<string, unknown>>,
    decision: ExchangeDecision,
  ): Promise<string> | string
}

export function buildAccessTokenClaims(
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
    scope: decision.scopes.join(' '),
    iat: decision.iat,
    exp: decision.exp,
    jti: options.jti ?? randomUUID(),
  })
}

/** A minter that signs with a node:crypto JWS signer (`kid` and `alg` from the signer). */
export function createJwsMinter(signer: JwsSigner): TokenMinter {
  return Object.freeze({
    mint: (claims: AccessTokenClaims, header: Readonly<Record<string, unknown>>) =>
      signer.sign({ ...header, ...ACCESS_TOKEN_HEADER }, claims),
  })
}
