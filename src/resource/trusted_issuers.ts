/**
 * A resource server that accepts tokens from more than one authorization server (e.g. the IdP
 * and the onbehalf STS) keeps one verifier per issuer. The token's unverified `iss` only chooses
 * which verifier runs; that verifier then checks everything again with the issuer's own keys,
 * including `iss` itself, so a token cannot pick its way past a check.
 */
import { decodeJwt } from 'jose'
import { ResourceAuthError } from './errors.js'
import type { AccessTokenVerifier, VerifiedAccessToken } from './verifier.js'

/**
 * @example
 * const verify = createTrustedIssuersVerifier([idpVerifier, stsVerifier])
 */
export function createTrustedIssuersVerifier(
  verifiers: readonly AccessTokenVerifier[],
): AccessTokenVerifier {
  if (!Array.isArray(verifiers) || verifiers.length === 0)
    throw new TypeError('at least one verifier is required')
  const byIssuer = new Map<string, AccessTokenVerifier>()
  const audiences = new Set<string>()
  for (const verifier of verifiers) {
    if (byIssuer.has(verifier.issuer))
      throw new TypeError(`issuer ${verifier.issuer} is listed twice`)
    byIssuer.set(verifier.issuer, verifier)
    audiences.add(verifier.audience)
  }
  if (audiences.size !== 1) throw new TypeError('every verifier must be for the same audience')
  const [audience] = audiences

  async function verifyFromTrustedIssuer(token: string): Promise<VerifiedAccessToken> {
    let issuer: unknown
    try {
      issuer = decodeJwt(token).iss
    } catch (cause) {
      throw new ResourceAuthError('invalid_token', { detail: 'token is not a JWT', cause })
    }
    const verifier = typeof issuer === 'string' ? byIssuer.get(issuer) : undefined
    if (!verifier) throw new ResourceAuthError('invalid_token', { detail: 'issuer is not trusted' })
    return verifier(token)
  }

  return Object.defineProperties(verifyFromTrustedIssuer, {
    issuer: { value: [...byIssuer.keys()].join(' '), enumerable: true },
    audience: { value: audience, enumerable: true },
  }) as AccessTokenVerifier
}
