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
 * Server-issued nonces (RFC 9449 §8, §9): `rememberNonce(url, response)` keeps the latest
 * `DPoP-Nonce` each origin sent, and every later proof for that origin carries it. A refusal for
 * want of a nonce (`use_dpop_nonce`) is retried once with the nonce it came with: the exchange
 * client does it at the token endpoint, `fetchWithDpop` at a resource server.
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
  /** A nonce the server handed out in `DPoP-Nonce`; default the latest one of the URL's origin. */
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
  /** Keeps the `DPoP-Nonce` of a response as the origin's latest nonce; true when there was one. */
  rememberNonce(url: string, response: { readonly headers: Headers }): boolean
}

interface HeldKey {
  readonly jkt: string
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
}

const ALG = 'ES256'
/** RFC 9449 §8.1: `nonce = 1*NQCHAR`, kept to a sane length. */
const NONCE = /^[\x21\x23-\x5B\x5D-\x7E]{1,512}$/
/** Origins whose nonce is remembered at once; the oldest goes first. */
const MAX_ORIGINS = 100

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
  /** origin → the latest nonce it handed out. */
  const nonces = new Map<string, string>()

  function keyFor(jkt: string | undefined): HeldKey {
    if (jkt === undefined || jkt === current.jkt) return current
    if (jkt === previous?.jkt) return previous
    throw new TypeError('DPoP key is no longer held (rotated twice since the token was bound)')
  }

  async function proof(request: DpopProofRequest): Promise<string> {
    const key = keyFor(request.jkt)
    const htu = normalizeHtu(request.url)
    if (htu === undefined) throw new TypeError('DPoP proof: url must be an absolute http(s) URL')
    const nonce = request.nonce ?? nonces.get(new URL(htu).origin)
    return new SignJWT({
      htm: request.method.toUpperCase(),
      htu,
      ...(request.accessToken === undefined ? {} : { ath: accessTokenHash(request.accessToken) }),
      ...(nonce === undefined ? {} : { nonce }),
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
    rememberNonce(url, response) {
      const nonce = response.headers.get('dpop-nonce')
      // RFC 9449 §8.1: nonce = 1*NQCHAR; anything else is not worth sending back.
      if (nonce === null || !NONCE.test(nonce)) return false
      const origin = URL.parse(url)?.origin
      if (origin === undefined || origin === 'null') return false
      if (!nonces.has(origin) && nonces.size >= MAX_ORIGINS) {
        nonces.delete(nonces.keys().next().value as string)
      }
      nonces.set(origin, nonce)
      return true
    },
  }
}

/** True for a refusal that asks for a server nonce (RFC 9449 §8: 400 body, §9: 401 challenge). */
export function asksForDpopNonce(response: Response, json?: unknown): boolean {
  if (!response.headers.has('dpop-nonce')) return false
  if (response.status === 401) {
    return /(?:^|[\s,])error="use_dpop_nonce"/.test(response.headers.get('www-authenticate') ?? '')
  }
  return (
    response.status === 400 &&
    typeof json === 'object' &&
    json !== null &&
    (json as { error?: unknown }).error === 'use_dpop_nonce'
  )
}

/**
 * A call to a resource server with a DPoP-bound token (RFC 9449 §7): `Authorization: DPoP`, a
 * fresh proof, the origin's latest nonce; when the server answers `use_dpop_nonce` (§9), once more
 * with the nonce it handed out. Every `DPoP-Nonce` received is remembered for the next call.
 *
 * @example
 * ```ts
 * const response = await fetchWithDpop(dpop, url, { accessToken, jkt })
 * ```
 */
export async function fetchWithDpop(
  dpop: DpopKey,
  url: string,
  request: Omit<DpopProofRequest, 'url' | 'method' | 'nonce'> & {
    readonly accessToken: string
    readonly method?: string
    readonly headers?: Readonly<Record<string, string>>
    readonly body?: RequestInit['body']
    readonly signal?: AbortSignal
    readonly fetch?: typeof fetch
  },
): Promise<Response> {
  const fetchImpl = request.fetch ?? globalThis.fetch
  const method = request.method ?? 'GET'
  const send = async () =>
    fetchImpl(url, {
      method,
      headers: {
        ...request.headers,
        ...(await dpop.authorizationHeaders({
          method,
          url,
          accessToken: request.accessToken,
          ...(request.jkt === undefined ? {} : { jkt: request.jkt }),
        })),
      },
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
      redirect: 'error',
    })
  const first = await send()
  dpop.rememberNonce(url, first)
  if (!asksForDpopNonce(first)) return first
  // Drained: the answer is replaced by the retry's.
  await first.arrayBuffer().catch(() => undefined)
  const second = await send()
  dpop.rememberNonce(url, second)
  return second
}
