/**
 * Compact JWS signing with a node:crypto KeyObject (RFC 7515 §7.1). The key and algorithm are
 * checked once at creation; `sign` does one JSON encoding and one `crypto.sign`.
 *
 * @example
 * ```ts
 * const signer = createJwsSigner({ alg: 'ES256', kid: 'k1', privateKey })
 * const jwt = signer.sign({ typ: 'at+jwt' }, { sub: 'alice' })
 * ```
 */
import { sign as cryptoSign, type KeyObject } from 'node:crypto'
import { algorithmSpec, cryptoKeyOptions, isKeyForAlgorithm } from './algorithms.js'

export interface JwsSignerOptions {
  readonly alg: string
  readonly kid: string
  readonly privateKey: KeyObject
}

export interface JwsSigner {
  readonly alg: string
  readonly kid: string
  /** `alg` and `kid` always come from the signer; `headerExtras` cannot override them. */
  sign(
    headerExtras: Readonly<Record<string, unknown>>,
    payload: Readonly<Record<string, unknown>>,
  ): string
}

export function createJwsSigner(options: JwsSignerOptions): JwsSigner {
  const { alg, kid, privateKey } = options
  const spec = algorithmSpec(alg)
  if (spec === undefined)
    throw new TypeError(`createJwsSigner: algorithm ${JSON.stringify(alg)} is not supported`)
  if (typeof kid !== 'string' || kid === '')
    throw new TypeError('createJwsSigner: kid must be a non-empty string')
  if (privateKey?.type !== 'private' || !isKeyForAlgorithm(spec, privateKey)) {
    throw new TypeError(`createJwsSigner: privateKey is not a private key usable with ${alg}`)
  }
  const keyOptions = cryptoKeyOptions(spec, privateKey)

  function sign(
    headerExtras: Readonly<Record<string, unknown>>,
    payload: Readonly<Record<string, unknown>>,
  ): string {
    const header = { ...headerExtras, alg, kid }
    const signingInput = `${encodeJson(header)}.${encodeJson(payload)}`
    const signature = cryptoSign(spec!.hash, Buffer.from(signingInput, 'ascii'), keyOptions)
    return `${signingInput}.${signature.toString('base64url')}`
  }

  return Object.freeze({ alg, kid, sign })
}

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
}
