/**
 * Compact JWS verification with node:crypto KeyObjects (RFC 7515, hardened per RFC 8725).
 *
 * Hot-path friendly: the algorithm list is validated once at creation, keys arrive as parsed
 * KeyObjects, and each call does one strict decode and one `crypto.verify`. Checks, in order:
 * three strict base64url segments → header is a JSON object → `alg` in the pinned list → no `crit`
 * (we understand no extensions, RFC 7515 §4.1.11) → no `jwk`/`jku`/`x5u` (keys never come from
 * the token, RFC 8725 §3.10) → payload is a JSON object → key resolved by our resolver → key type
 * matches `alg` → signature. `x5c` is ignored, never used.
 *
 * Failures throw `JwsVerificationError` with a reason code; the engine maps it to invalid_request.
 * A resolver that cannot obtain keys right now (an upstream JWKS is down) throws one with reason
 * `key_unavailable` and a message for the audit detail.
 *
 * @example
 * ```ts
 * const verifier = createJwsVerifier({ algorithms: ['ES256'], resolveKey: ({ kid }) => keys.get(kid) })
 * const { header, payload } = await verifier.verify(compact)
 * ```
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { algorithmSpec, cryptoKeyOptions, isKeyForAlgorithm } from './algorithms.js'

export type JwsFailureReason =
  | 'malformed'
  | 'header_invalid'
  | 'alg_not_allowed'
  | 'crit_unsupported'
  | 'key_header_present'
  | 'payload_invalid'
  | 'key_not_found'
  | 'key_unavailable'
  | 'key_mismatch'
  | 'signature_invalid'

export class JwsVerificationError extends Error {
  static readonly code = 'ERR_JWS_VERIFICATION_FAILED'
  readonly code = JwsVerificationError.code
  /** Which check failed. */
  readonly reason: JwsFailureReason
  constructor(reason: JwsFailureReason, message: string = reason) {
    super(message)
    this.name = 'JwsVerificationError'
    this.reason = reason
  }
}

export interface JwsHeader {
  readonly alg: string
  readonly kid?: string
  readonly typ?: string
  readonly [parameter: string]: unknown
}

export interface VerifiedJws {
  readonly header: JwsHeader
  readonly payload: Readonly<Record<string, unknown>>
}

export interface KeyLookup {
  /** `iss` from the not-yet-verified payload: use it only to choose a key. */
  readonly iss: string | undefined
  readonly kid: string | undefined
  readonly alg: string
}

export type KeyResolver = (
  input: KeyLookup,
) => KeyObject | undefined | Promise<KeyObject | undefined>

export interface JwsVerifierOptions {
  readonly algorithms: readonly string[]
  readonly resolveKey: KeyResolver
}

export interface JwsVerifier {
  readonly algorithms: readonly string[]
  verify(compact: string): Promise<VerifiedJws>
}

/** Header parameters that would let the token choose its own key (RFC 8725 §3.10). */
const KEY_HEADERS = ['jwk', 'jku', 'x5u'] as const
const BASE64URL = /^[A-Za-z0-9_-]*$/

export function createJwsVerifier(options: JwsVerifierOptions): JwsVerifier {
  if (!Array.isArray(options.algorithms) || options.algorithms.length === 0) {
    throw new TypeError('createJwsVerifier: algorithms must be a non-empty array')
  }
  for (const alg of options.algorithms) {
    if (algorithmSpec(alg) === undefined) {
      throw new TypeError(`createJwsVerifier: algorithm ${JSON.stringify(alg)} is not supported`)
    }
  }
  if (typeof options.resolveKey !== 'function') {
    throw new TypeError('createJwsVerifier: resolveKey must be a function')
  }
  const allowed: ReadonlySet<string> = new Set(options.algorithms)
  const resolveKey = options.resolveKey

  async function verify(compact: string): Promise<VerifiedJws> {
    if (typeof compact !== 'string') throw new JwsVerificationError('malformed')
    const parts = compact.split('.')
    if (parts.length !== 3) throw new JwsVerificationError('malformed', 'not three segments')
    const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string]

    const header = decodeJsonObject(encodedHeader, 'header_invalid')
    const alg = header.alg
    if (typeof alg !== 'string') throw new JwsVerificationError('header_invalid', 'alg missing')
    if (!allowed.has(alg)) throw new JwsVerificationError('alg_not_allowed', `alg ${alg}`)
    if (header.crit !== undefined) throw new JwsVerificationError('crit_unsupported')
    for (const name of KEY_HEADERS) {
      if (header[name] !== undefined) {
        throw new JwsVerificationError('key_header_present', `${name} header present`)
      }
    }
    const kid = header.kid
    if (kid !== undefined && typeof kid !== 'string') {
      throw new JwsVerificationError('header_invalid', 'kid is not a string')
    }

    const payload = decodeJsonObject(encodedPayload, 'payload_invalid')
    const signature = decodeBase64url(encodedSignature, 'malformed')

    const spec = algorithmSpec(alg)!
    const key = await resolveKey({
      iss: typeof payload.iss === 'string' ? payload.iss : undefined,
      kid,
      alg,
    })
    if (key === undefined) throw new JwsVerificationError('key_not_found')
    if (key.type !== 'public' || !isKeyForAlgorithm(spec, key)) {
      throw new JwsVerificationError('key_mismatch')
    }
    if (spec.signatureLength !== undefined && signature.length !== spec.signatureLength) {
      throw new JwsVerificationError('signature_invalid', 'signature length')
    }
    let valid: boolean
    try {
      valid = cryptoVerify(
        spec.hash,
        Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii'),
        cryptoKeyOptions(spec, key),
        signature,
      )
    } catch {
      valid = false
    }
    if (!valid) throw new JwsVerificationError('signature_invalid')
    return { header: header as JwsHeader, payload }
  }

  return Object.freeze({ algorithms: Object.freeze([...options.algorithms]), verify })
}

/** Strict base64url: alphabet only, no padding, canonical trailing bits. */
function decodeBase64url(segment: string, reason: JwsFailureReason): Buffer {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) {
    throw new JwsVerificationError(reason, 'not base64url')
  }
  const bytes = Buffer.from(segment, 'base64url')
  if (bytes.toString('base64url') !== segment) {
    throw new JwsVerificationError(reason, 'not canonical base64url')
  }
  return bytes
}

function decodeJsonObject(segment: string, reason: JwsFailureReason): Record<string, unknown> {
  if (segment === '') throw new JwsVerificationError(reason, 'empty segment')
  const bytes = decodeBase64url(segment, reason)
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw new JwsVerificationError(reason, 'not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JwsVerificationError(reason, 'not a JSON object')
  }
  return value as Record<string, unknown>
}
