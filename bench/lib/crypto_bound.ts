/**
 * The cryptographic bound of one exchange on one core: one signature check with the subject
 * token's algorithm plus one signature with the issued token's algorithm, straight on node:crypto
 * with parsed KeyObjects (no JSON, no base64url, no HTTP). Measured synchronously on this thread,
 * so one core, in CPU time, in the same run as the load phases.
 *
 * floorUs = 1/verify + 1/sign: the CPU time of one exchange that were nothing but its cryptography
 * (pairsPerSecond is its inverse, the exchanges one core could do).
 */
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'

export interface CryptoBound {
  readonly verifyAlgorithm: string
  readonly signAlgorithm: string
  readonly verifyPerSecond: number
  readonly signPerSecond: number
  readonly pairsPerSecond: number
  /** One verify + one sign, in microseconds: the CPU floor of one exchange on this machine. */
  readonly floorUs: number
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

/** CPU milliseconds (user + system) this process has used so far. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/**
 * Calls `operation` in batches until `durationMs` of CPU time has passed; operations per CPU
 * second. CPU time, not wall time: on a shared machine the thread is preempted, and the floor
 * must be comparable with the services' CPU per request.
 */
function rate(operation: () => void, durationMs: number): number {
  for (let i = 0; i < 200; i++) operation() // warm-up
  const started = cpuMs()
  let count = 0
  let elapsed = 0
  while (elapsed < durationMs) {
    for (let i = 0; i < 100; i++) operation()
    count += 100
    elapsed = cpuMs() - started
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
    floorUs: Math.round((1e6 / verifyPerSecond + 1e6 / signPerSecond) * 10) / 10,
  }
}
