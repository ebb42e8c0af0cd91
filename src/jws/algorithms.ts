/**
 * The JWS algorithms onbehalf signs and verifies with node:crypto (RFC 7518 §3, RFC 8037), and the
 * key each one needs. HS* and `none` are deliberately absent (RFC 8725 §3.1, §3.2).
 */
import { constants, type KeyObject } from 'node:crypto'

export interface AlgorithmSpec {
  /** Digest for `crypto.sign`/`crypto.verify`; `null` for EdDSA. */
  readonly hash: string | null
  readonly keyTypes: readonly string[]
  /** EC: the curve the key must be on. */
  readonly namedCurve?: string
  /** ECDSA: exact length of an IEEE P1363 signature. */
  readonly signatureLength?: number
  readonly padding?: number
  readonly saltLength?: number
}

const rsa = (hash: string): AlgorithmSpec => ({
  hash,
  keyTypes: ['rsa'],
  padding: constants.RSA_PKCS1_PADDING,
})
const pss = (hash: string, saltLength: number): AlgorithmSpec => ({
  hash,
  keyTypes: ['rsa', 'rsa-pss'],
  padding: constants.RSA_PKCS1_PSS_PADDING,
  saltLength,
})
const ec = (hash: string, namedCurve: string, signatureLength: number): AlgorithmSpec => ({
  hash,
  keyTypes: ['ec'],
  namedCurve,
  signatureLength,
})

export const ALGORITHMS: Readonly<Record<string, AlgorithmSpec>> = Object.freeze({
  ES256: ec('sha256', 'prime256v1', 64),
  ES384: ec('sha384', 'secp384r1', 96),
  ES512: ec('sha512', 'secp521r1', 132),
  RS256: rsa('sha256'),
  RS384: rsa('sha384'),
  RS512: rsa('sha512'),
  PS256: pss('sha256', 32),
  PS384: pss('sha384', 48),
  PS512: pss('sha512', 64),
  EdDSA: { hash: null, keyTypes: ['ed25519', 'ed448'] },
  Ed25519: { hash: null, keyTypes: ['ed25519'] },
})

export function algorithmSpec(alg: string): AlgorithmSpec | undefined {
  return Object.hasOwn(ALGORITHMS, alg) ? ALGORITHMS[alg] : undefined
}

/** Whether `key` (public or private) is the right kind of key for `alg`. */
export function isKeyForAlgorithm(spec: AlgorithmSpec, key: KeyObject): boolean {
  const type = key.asymmetricKeyType
  if (key.type === 'secret' || type === undefined || !spec.keyTypes.includes(type)) return false
  if (spec.namedCurve !== undefined && key.asymmetricKeyDetails?.namedCurve !== spec.namedCurve) {
    return false
  }
  const modulusLength = key.asymmetricKeyDetails?.modulusLength
  if (type.startsWith('rsa') && (modulusLength === undefined || modulusLength < 2048)) return false
  return true
}

/** Options for `crypto.sign` / `crypto.verify`. */
export function cryptoKeyOptions(spec: AlgorithmSpec, key: KeyObject) {
  return {
    key,
    dsaEncoding: 'ieee-p1363' as const,
    padding: spec.padding,
    saltLength: spec.saltLength,
  }
}
