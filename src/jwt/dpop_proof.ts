/**
 * DPoP proofs (RFC 9449 §4), checked the same way at both places that see one: the engine's token
 * endpoint (an exchange binds the issued token to the proof's key) and the resource kit (a bound
 * token is accepted only with a fresh proof from its key). jose verifies the JWS with the key the
 * proof carries (`EmbeddedJWK`); the checks of §4.3 follow in its order:
 *
 *   one compact JWS → `typ: dpop+jwt` → asymmetric pinned `alg` → `jwk` is a public key → signature
 *   → `jti`, `htm`, `htu`, `iat` present → `htm` is the request method → `htu` is the request URI
 *   without query and fragment → `iat` inside the window → `nonce` when one is demanded → `ath` is
 *   the hash of the presented access token → `jti` not seen before (replay cache, per key).
 *
 * Every failure is a `DpopProofError` with a `reason` (for audit and logs); what a client is told
 * is the caller's choice (`invalid_dpop_proof`, `use_dpop_nonce`).
 *
 * @example
 * ```ts
 * const replay = createDpopReplayCache()
 * const proof = await verifyDpopProof(header, { htm: 'POST', htu: tokenEndpoint, now, replay })
 * claims.cnf = { jkt: proof.jkt }
 * ```
 */
import { createHash } from 'node:crypto'
import type * as Jose from 'jose'
import type { JWK, JWTPayload } from 'jose'
import type { EpochSeconds } from '../time/clock.js'
import type { DpopNonces, DpopNonceVerdict } from './dpop_nonce.js'

/**
 * jose, loaded on the first proof: a service whose clients send no DPoP proofs (the STS, the IdP)
 * does not hold it (≈ 10 MB resident) from its start.
 */
let jose: Promise<typeof Jose> | undefined
const loadJose = () => (jose ??= import('jose'))

/** RFC 9449 §4.2: the proof's media type. */
export const DPOP_PROOF_TYP = 'dpop+jwt'

/** Asymmetric algorithms a proof may use (RFC 9449 §4.2: never `none`, never a MAC). */
export const DPOP_ALGORITHMS: readonly string[] = Object.freeze([
  'ES256',
  'ES384',
  'EdDSA',
  'PS256',
])

/** Seconds a proof stays acceptable after its `iat` (and before: clock skew). */
export const DEFAULT_DPOP_MAX_AGE_SECONDS = 60

export type DpopFailureReason =
  | 'missing'
  | 'multiple'
  | 'malformed'
  | 'typ'
  | 'alg'
  | 'jwk'
  | 'signature'
  | 'claims'
  | 'htm'
  | 'htu'
  | 'iat'
  | 'nonce'
  | 'ath'
  | 'replay'
  | 'key_mismatch'

export class DpopProofError extends Error {
  static readonly code = 'ERR_DPOP_PROOF_INVALID'
  readonly code = DpopProofError.code
  override name = 'DpopProofError'
  readonly reason: DpopFailureReason
  /** reason `nonce`: what was wrong with the proof's nonce (missing, stale, wrong). */
  readonly nonce: Exclude<DpopNonceVerdict, 'ok'> | undefined

  constructor(
    reason: DpopFailureReason,
    message: string,
    options?: { cause?: unknown; nonce?: Exclude<DpopNonceVerdict, 'ok'> },
  ) {
    super(message, options)
    this.reason = reason
    this.nonce = options?.nonce
  }
}

/**
 * The replay cache could not answer (a shared cache whose store is down). Not a verdict on the
 * proof: the request cannot be judged right now, so it is refused as unavailable (fail closed),
 * never let through unchecked.
 */
export class DpopReplayUnavailable extends Error {
  static readonly code = 'ERR_DPOP_REPLAY_UNAVAILABLE'
  readonly code = DpopReplayUnavailable.code
  override name = 'DpopReplayUnavailable'
}

/**
 * Remembers each proof's `jti` per key until its window closed: a proof is good once. This one is
 * per process; `createRedisDpopReplayCache` (src/limits/redis_dpop_replay.ts) is shared by every
 * instance. Bounded: beyond `maxEntries` the oldest entries go first, which are the ones whose
 * window closes first.
 */
export interface DpopReplayCache {
  /**
   * True the first time `(jkt, jti)` is seen before `expiresAt`; false for a replay. Throws (or
   * rejects with) `DpopReplayUnavailable` when it cannot tell.
   */
  firstUse(
    jkt: string,
    jti: string,
    expiresAt: EpochSeconds,
    now: EpochSeconds,
  ): boolean | Promise<boolean>
}

export function createDpopReplayCache(
  options: { readonly maxEntries?: number } = {},
): DpopReplayCache {
  const maxEntries = options.maxEntries ?? 100_000
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError('createDpopReplayCache: maxEntries must be a positive integer')
  }
  // Insertion order is expiry order (every entry lives one window), so the front expires first.
  const seen = new Map<string, EpochSeconds>()
  return Object.freeze({
    firstUse(jkt: string, jti: string, expiresAt: EpochSeconds, now: EpochSeconds): boolean {
      for (const [key, expiry] of seen) {
        if (expiry > now && seen.size < maxEntries) break
        seen.delete(key)
      }
      const key = `${jkt} ${jti}`
      const expiry = seen.get(key)
      if (expiry !== undefined && expiry > now) return false
      seen.set(key, expiresAt)
      return true
    },
  })
}

export interface DpopProofCheck {
  /** The request's method. */
  readonly htm: string
  /** The request's URI as the server is reached (scheme, host, path); query and fragment ignored. */
  readonly htu: string
  /** The access token the proof must cover (`ath`), at a resource server. */
  readonly accessToken?: string
  /** Server-issued nonces (RFC 9449 §8, §9): when set, the proof must carry a recent one. */
  readonly nonces?: DpopNonces
  readonly now: EpochSeconds
  readonly replay: DpopReplayCache
  /** Default `DPOP_ALGORITHMS`. */
  readonly algorithms?: readonly string[]
  /** Default `DEFAULT_DPOP_MAX_AGE_SECONDS`. */
  readonly maxAgeSeconds?: number
}

export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: what `cnf.jkt` binds to. */
  readonly jkt: string
  readonly jti: string
  readonly iat: number
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url')
}

/** The `htu` form of a URI: no query, no fragment (RFC 9449 §4.3 item 9). */
export function normalizeHtu(uri: string): string | undefined {
  const url = URL.parse(uri)
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) return undefined
  url.search = ''
  url.hash = ''
  return url.href
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

/**
 * The one `DPoP` header of a request, from every value received: `undefined` when none, a
 * `DpopProofError` when repeated or empty.
 */
export function readDpopHeader(values: readonly string[]): string | undefined {
  if (values.length === 0) return undefined
  if (values.length > 1) throw new DpopProofError('multiple', 'more than one DPoP header')
  const [value] = values
  if (value === undefined || !COMPACT_JWS.test(value) || value.length > 4096) {
    throw new DpopProofError('malformed', 'DPoP header is not one compact JWS')
  }
  return value
}

export async function verifyDpopProof(
  proof: string,
  check: DpopProofCheck,
): Promise<VerifiedDpopProof> {
  const algorithms = check.algorithms ?? DPOP_ALGORITHMS
  const maxAge = check.maxAgeSeconds ?? DEFAULT_DPOP_MAX_AGE_SECONDS
  if (!COMPACT_JWS.test(proof)) throw new DpopProofError('malformed', 'not a compact JWS')
  const { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify } = await loadJose()

  let header: ReturnType<typeof decodeProtectedHeader>
  try {
    header = decodeProtectedHeader(proof)
  } catch (cause) {
    throw new DpopProofError('malformed', 'header is not JSON', { cause })
  }
  if (header.typ !== DPOP_PROOF_TYP) throw new DpopProofError('typ', 'typ is not dpop+jwt')
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    throw new DpopProofError('alg', 'alg is not an accepted asymmetric algorithm')
  }
  const jwk = header.jwk as JWK | undefined
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw new DpopProofError('jwk', 'no jwk header')
  }
  // RFC 9449 §4.3 item 7: the key must be public.
  if ('d' in jwk || 'p' in jwk || 'k' in jwk) throw new DpopProofError('jwk', 'jwk is not public')

  let payload: JWTPayload
  try {
    ;({ payload } = await jwtVerify(proof, EmbeddedJWK, {
      typ: DPOP_PROOF_TYP,
      algorithms: [...algorithms],
      currentDate: new Date(check.now * 1000),
    }))
  } catch (cause) {
    throw new DpopProofError('signature', 'signature does not verify with its jwk', { cause })
  }

  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) {
    throw new DpopProofError('claims', 'jti is missing')
  }
  if (typeof payload.htm !== 'string' || typeof payload.htu !== 'string') {
    throw new DpopProofError('claims', 'htm or htu is missing')
  }
  if (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat)) {
    throw new DpopProofError('claims', 'iat is missing')
  }
  if (payload.htm !== check.htm) throw new DpopProofError('htm', 'htm is not the request method')
  const expected = normalizeHtu(check.htu)
  if (expected === undefined || normalizeHtu(payload.htu) !== expected) {
    throw new DpopProofError('htu', 'htu is not the request URI')
  }
  if (Math.abs(check.now - payload.iat) > maxAge) {
    throw new DpopProofError('iat', 'iat is outside the acceptance window')
  }
  if (check.nonces !== undefined) {
    const verdict = check.nonces.check(payload.nonce, check.now)
    if (verdict !== 'ok') {
      throw new DpopProofError('nonce', `nonce is ${verdict}`, { nonce: verdict })
    }
  }
  if (check.accessToken !== undefined) {
    if (payload.ath !== accessTokenHash(check.accessToken)) {
      throw new DpopProofError('ath', 'ath is not the hash of the presented access token')
    }
  }

  const jkt = await calculateJwkThumbprint(jwk, 'sha256')
  // The window closes maxAge after iat; a replay inside it is refused, after it the iat check is.
  if (!(await check.replay.firstUse(jkt, payload.jti, payload.iat + maxAge + 1, check.now))) {
    throw new DpopProofError('replay', 'proof jti was already used')
  }
  return Object.freeze({ jkt, jti: payload.jti, iat: payload.iat })
}

/**
 * RFC 9449 §6: `cnf.jkt` of a token. `undefined` when the token carries no `cnf` (not bound);
 * `null` when it carries a confirmation this code cannot check (another method, a malformed one):
 * such a token is bound to something, so it must never be treated as a plain bearer token.
 */
export function readJktConfirmation(
  claims: Readonly<Record<string, unknown>>,
): string | null | undefined {
  const cnf = claims.cnf
  if (cnf === undefined) return undefined
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return null
  const jkt = (cnf as Record<string, unknown>).jkt
  return typeof jkt === 'string' && /^[A-Za-z0-9_-]{43}$/.test(jkt) ? jkt : null
}
