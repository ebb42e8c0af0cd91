/**
 * Minting: the decided claims → a signed token, through the one `TokenMinter` signature the IdP and
 * the STS share. Validation never builds tokens and minting never decides: each grant's claims
 * builder shapes the RFC 9068 claims from its decision, the runner hands them to the minter, as
 * Spring hands a context to `OAuth2TokenGenerator`.
 *
 * `createJwsMinter` is the minter of both token services: it signs with the current key of a
 * node:crypto JWS signer (`typ: at+jwt`, RFC 9068 §2.1, or the request's `typ: txntoken+jwt`;
 * `alg`/`kid` from the signer) and lets the
 * caller record the token before it leaves (the IdP ties it to the grant it was derived from).
 *
 * @example
 * ```ts
 * const minter = createJwsMinter({ currentSigner: () => signer })
 * const token = await minter.mint({ claims, derivedFromJti: subject.jti })
 * ```
 */
import type { ActClaim } from '../jwt/act_claim.js'
import type { JwsSigner } from '../jws/sign_jws.js'

/** RFC 9068 §2.2 claims of every JWT access token the engine mints. */
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
export const ACCESS_TOKEN_TYP = 'at+jwt'

/** draft-ietf-oauth-transaction-tokens-10 §9.1: the media type of transaction tokens. */
export const TXN_TOKEN_TYP = 'txntoken+jwt'

/**
 * Claims of a transaction token (draft-ietf-oauth-transaction-tokens-10 §9.2): required `iat`,
 * `aud` (the trust domain), `exp`, `txn`, `sub`, `scope`, `req_wl`; recommended `tctx`, `rctx`.
 * `iss` and `jti` are optional there; onbehalf always sets both (the signer, the audit record).
 */
export interface TxnTokenClaims {
  readonly iss: string
  readonly aud: string
  readonly sub: string
  readonly txn: string
  readonly scope: string
  readonly req_wl: string
  readonly iat: number
  readonly exp: number
  readonly jti: string
  readonly tctx?: Readonly<Record<string, unknown>>
  readonly rctx?: Readonly<Record<string, unknown>>
  readonly [claim: string]: unknown
}

/** An access token to mint (`typ: at+jwt`), the kind every grant but the txn-token one mints. */
export interface AccessTokenMintRequest {
  readonly typ?: typeof ACCESS_TOKEN_TYP
  /** Final claims; the minter adds nothing to them. */
  readonly claims: AccessTokenClaims
  /**
   * `jti` of the token this one was made from (the subject token, the federation assertion):
   * the IdP lets the new token live and die with that token's grant.
   */
  readonly derivedFromJti: string | undefined
}

/** A transaction token to mint (`typ: txntoken+jwt`). */
export interface TxnTokenMintRequest {
  readonly typ: typeof TXN_TOKEN_TYP
  readonly claims: TxnTokenClaims
  /** `jti` of the access token or txn token it was made from. */
  readonly derivedFromJti: string | undefined
}

export type MintRequest = AccessTokenMintRequest | TxnTokenMintRequest

export interface TokenMinter {
  mint(request: MintRequest): Promise<string>
}

export interface JwsMinterOptions {
  /** The signer of the active key, asked per token (a rotation is picked up on the next one). */
  readonly currentSigner: () => JwsSigner
  /** Runs after signing and before the token is returned: a failure means no token leaves. */
  readonly record?: (request: MintRequest) => void | Promise<void>
}

export function createJwsMinter(options: JwsMinterOptions): TokenMinter {
  const { currentSigner, record } = options
  if (typeof currentSigner !== 'function') {
    throw new TypeError('createJwsMinter: currentSigner is required')
  }
  if (record !== undefined && typeof record !== 'function') {
    throw new TypeError('createJwsMinter: record must be a function')
  }
  return Object.freeze({
    async mint(request: MintRequest): Promise<string> {
      const token = currentSigner().sign({ typ: request.typ ?? ACCESS_TOKEN_TYP }, request.claims)
      await record?.(request)
      return token
    },
  })
}
