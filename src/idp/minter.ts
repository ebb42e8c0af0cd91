/**
 * The IdP's one `TokenMinter`, shared by the RFC 8693 exchange and the JWT federation re-issue:
 * signs an RFC 9068 access token (`typ: at+jwt`) with the active key and records it in the issued
 * token registry, tied to the grant of the token it came from, so it lives and dies with it.
 *
 * @example
 * ```ts
 * const minter = createIdpMinter(signer, issuedTokens)
 * ```
 */
import type { TokenMinter } from '../exchange/mint.js'
import type { JwsSigner } from '../jws/sign_jws.js'
import type { IssuedTokenRegistry } from './issued_tokens.js'

export function createIdpMinter(signer: JwsSigner, issuedTokens: IssuedTokenRegistry): TokenMinter {
  return Object.freeze({
    async mint(claims, header, decision) {
      const token = signer.sign({ ...header, typ: 'at+jwt' }, claims)
      // The new token lives and dies with the grant of the token it was made from.
      const subjectRecord = await issuedTokens.find(decision.subjectJti)
      issuedTokens.record({
        jti: claims.jti,
        grantId: subjectRecord?.grantId,
        clientId: claims.client_id,
        sub: claims.sub,
        exp: claims.exp,
      })
      return token
    },
  } satisfies TokenMinter)
}
