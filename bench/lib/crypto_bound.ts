/**
 * The cryptographic bound of one exchange on one core: one signature check with the subject
 * token's algorithm plus one signature with the issued token's algorithm, straight on node:crypto
 * with parsed KeyObjects (no JSON, no base64url, no HTTP). Measured synchronously on this thread,
 * so one core, in the same run as the load phases.
 *
 * pairsPerSecond = 1 / (1/verify + 1/sign): exchanges per second one core could do if an exchange
 * were nothing but its cryptography.
 */
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'

export interface CryptoBound {
  readonly verifyAlgorithm: string
  readonly signAlgorithm: string
  readonly verifyPerSecond: number
  readonly signPerSecond: number
  readonly pairsPerSecond: number
}

export interface CryptoBoundInput {
  /** A real subject token (ES256) and the public key that verifies it. */
  readonly subjectToken: string
  readonly subjectKey: KeyObject
  /** Claims shaped like an issued token, to sign. */
  readonly issuedClaims: Record<string, unknown>
  readonly durationMs: number
}

const ES256 = { hash: 'sha256', dsaEncoding: 'ieee-p1363' as const }

/** Calls `operation` in batches until `durationMs` has passed; operations per second. */
function rate(operation: () => void, durationMs: number): number {
  for (let i = 0; i < 200; i++) operation() // warm-up
  const started = performance.now()
  let count = 0
  let elapsed = 0
  while (elapsed < durationMs) {
    for (let i = 0; i < 100; i++) operation()
    count += 100
    elapsed = performance.now() - started
  }
  return (count * 1000) / elapsed
}

export function measureCryptoBound(input: CryptoBoundInput): CryptoBound {
  const [header, payload, signature] = input.subjectToken.split('.') as [string, string, string]
  const signingInput = Buffer.from(`${header}.${payload}`, 'ascii')
  const signatureBytes = Buffer.from(signature, 'base64url')
  const verifyKey = { key: input.subjectKey, dsaEncoding: ES256.dsaEncoding }
  if (!verify(ES256.hash, signingInput, verifyKey, signatureBytes)) {
    throw new Error('the subject token does not verify with the key given')
  }

  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const issuedHeader = Buffer.from(
    JSON.stringify({ typ: 'at+jwt', alg: 'ES256', kid: 'bench' }),
  ).toString('base64url')
  const issuedPayload = Buffer.from(JSON.stringify(input.issuedClaims)).toString('base64url')
  const issuedInput = Buffer.from(`${issuedHeader}.${issuedPayload}`, 'ascii')
  const signKey = { key: privateKey, dsaEncoding: ES256.dsaEncoding }

  const verifyPerSecond = rate(() => {
    verify(ES256.hash, signingInput, verifyKey, signatureBytes)
  }, input.durationMs)
  const signPerSecond = rate(() => {
    sign(ES256.hash, issuedInput, signKey)
  }, input.durationMs)
  return {
    verifyAlgorithm: 'ES256',
    signAlgorithm: 'ES256',
    verifyPerSecond: Math.round(verifyPerSecond),
    signPerSecond: Math.round(signPerSecond),
    pairsPerSecond: Math.round(1 / (1 / verifyPerSecond + 1 / signPerSecond)),
  }
}
