/**
 * The client side of DPoP (RFC 9449): one key pair per client, kept in memory, never exported, and
 * a proof per request — `htm`, `htu` (no query, no fragment), `iat`, a random `jti`, and `ath`
 * when an access token goes with it. jose signs.
 *
 * `rotate()` makes a new key the current one. The previous key is kept (`proofFor(jkt, …)`), so a
 * token bound to it moments ago can still be used until it expires; the key before that is gone.
 * The exchange client keys its cache by thumbprint, so after a rotation new tokens bind to the new
 * key.
 *
 * @example
 * ```ts
 * const dpop = await createDpopKey()
 * const exchanger = createTokenExchangeClient({ …, dpop })
 * const { accessToken, jkt } = await exchanger.exchange({ subjectToken, audience: 'app-b' })
 * await fetch(url, { headers: await dpop.authorizationHeaders({ method: 'GET', url, accessToken, jkt }) })
 * ```
 */
import { randomUUID } from 'node:crypto'
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose'
import { accessTokenHash, normalizeHtu } from '../jwt/dpop_proof.js'
import { systemClock, type Clock } from '../time/clock.js'

export interface DpopProofRequest {
  readonly method: string
  readonly url: string
  /** The access token sent with the request (adds `ath`). */
  readonly accessToken?: string
  /** A nonce the server handed out in `DPoP-Nonce`. */
  readonly nonce?: string
  /** The key a token is bound to; default the current key. */
  readonly jkt?: string
}

export interface DpopKey {
  /** Thumbprint of the current key: what the server binds tokens to (`cnf.jkt`). */
  readonly jkt: string
  /** A fresh proof; throws `TypeError` when `jkt` names a key no longer held. */
  proof(request: DpopProofRequest): Promise<string>
  /** `Authorization: DPoP <token>` and `DPoP: <proof>` for a call to a resource server. */
  authorizationHeaders(
    request: DpopProofRequest & { readonly accessToken: string },
  ): Promise<Record<string, string>>
  /** A new current key; the previous one is kept for tokens still bound to it. */
  rotate(): Promise<void>
}

interface HeldKey {
  readonly jkt: string
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
}

const ALG = 'ES256'

async function newKey(): Promise<HeldKey> {
  const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: false })
  const exported = await exportJWK(publicKey)
  const publicJwk: JWK = { kty: exported.kty, crv: exported.crv, x: exported.x, y: exported.y }
  return { jkt: await calculateJwkThumbprint(publicJwk, 'sha256'), privateKey, publicJwk }
}

export async function createDpopKey(options: { readonly now?: Clock } = {}): Promise<DpopKey> {
  const now = options.now ?? systemClock
  let current = await newKey()
  let previous: HeldKey | undefined

  function keyFor(jkt: string | undefined): HeldKey {
    if (jkt === undefined || jkt === current.jkt) return current
    if (jkt === previous?.jkt) return previous
    throw new TypeError('DPoP key is no longer held (rotated twice since the token was bound)')
  }

  async function proof(request: DpopProofRequest): Promise<string> {
    const key = keyFor(request.jkt)
    const htu = normalizeHtu(request.url)
    if (htu === undefined) throw new TypeError('DPoP proof: url must be an absolute http(s) URL')
    return new SignJWT({
      htm: request.method.toUpperCase(),
      htu,
      ...(request.accessToken === undefined ? {} : { ath: accessTokenHash(request.accessToken) }),
      ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
    })
      .setProtectedHeader({ alg: ALG, typ: 'dpop+jwt', jwk: key.publicJwk })
      .setIssuedAt(Math.floor(now()))
      .setJti(randomUUID())
      .sign(key.privateKey)
  }

  return {
    get jkt() {
      return current.jkt
    },
    proof,
    async authorizationHeaders(request) {
      return {
        authorization: `DPoP ${request.accessToken}`,
        dpop: await proof(request),
      }
    },
    async rotate() {
      const next = await newKey()
      previous = current
      current = next
    },
  }
}
