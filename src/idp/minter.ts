/**
 * The IdP's `TokenMinter` for every token it mints itself (RFC 8693 exchange, JWT federation
 * re-issue): the engine's `createJwsMinter` with the active key, recording each token in the issued
 * token registry before it leaves, tied to the grant of the token it was derived from, so it lives
 * and dies with it. (client_credentials and login tokens are signed by oidc-provider.)
 *
 * @example
 * ```ts
 * const minter = createIdpMinter(() => signer, issuedTokens)
 * ```
 */
import { createJwsMinter, TXN_TOKEN_TYP, type TokenMinter } from '../exchange/mint.js'
import type { JwsSigner } from '../jws/sign_jws.js'
import type { IssuedTokenRegistry } from './issued_tokens.js'

export function createIdpMinter(
  currentSigner: () => JwsSigner,
  issuedTokens: IssuedTokenRegistry,
): TokenMinter {
  return createJwsMinter({
    currentSigner,
    async record(request) {
      // The IdP runs no txn-token grant: such a request is a wiring fault, and no token leaves.
      if (request.typ === TXN_TOKEN_TYP) throw new TypeError('the IdP does not mint txn tokens')
      const { claims, derivedFromJti } = request
      const token = {
        jti: claims.jti,
        clientId: claims.client_id,
        sub: claims.sub,
        exp: claims.exp,
      }
      // The subject token (federation assertion) was found live by the grant, so it has a record:
      // the new token takes its grant from it as it is written. Revoked since, the write refuses.
      await (derivedFromJti === undefined
        ? issuedTokens.record(token)
        : issuedTokens.recordExchanged({ ...token, parentJti: derivedFromJti }))
    },
  })
}
