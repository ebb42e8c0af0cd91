/**
 * What App B pays for a token it has not seen yet: its verifier (the resource kit's
 * `createTrustedIssuersVerifier` over `createAccessTokenVerifier`, configured as App B configures
 * it, keys from the IdP's live JWKS) with the verified-token cache off, against one bare ES256
 * `crypto.verify` of the same tokens. Interleaved rounds on this thread, in CPU time; the median
 * round counts.
 */
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto'
import {
  createAccessTokenVerifier,
  createTrustedIssuersVerifier,
} from '../../src/resource/index.js'
import { cpuMs } from './crypto_bound.js'
import { round } from './wrk.js'

export interface FreshVerifyResult {
  readonly tokens: number
  /** One App B verification of a token, cache off, µs. */
  readonly verifierUs: number
  /** One bare ES256 signature check, µs. */
  readonly es256VerifyUs: number
  /** verifierUs ÷ es256VerifyUs. */
  readonly ratio: number
}

export interface FreshVerifyInput {
  readonly issuer: string
  readonly jwks: { readonly keys: ReadonlyArray<JsonWebKey & { kid: string }> }
  readonly audience: string
  readonly allowedCallers: readonly string[]
  readonly requiredScopes: readonly string[]
  /** Distinct exchanged tokens for the audience. */
  readonly tokens: readonly string[]
  readonly rounds: number
  readonly roundMs: number
}

async function usPerToken(
  tokens: readonly string[],
  operation: (token: string) => unknown,
  ms: number,
): Promise<number> {
  // CPU time of this process (nothing else runs in it meanwhile), as for the crypto floor.
  const started = cpuMs()
  let count = 0
  while (cpuMs() - started < ms) {
    for (const token of tokens) await operation(token)
    count += tokens.length
  }
  return ((cpuMs() - started) * 1000) / count
}

export async function measureFreshVerify(input: FreshVerifyInput): Promise<FreshVerifyResult> {
  const verifier = createTrustedIssuersVerifier([
    createAccessTokenVerifier({
      issuer: input.issuer,
      audience: input.audience,
      jwksUri: `${input.issuer}/jwks`,
      allowedCallers: input.allowedCallers,
      requiredScopes: input.requiredScopes,
      verifiedTokenCache: false,
    }),
  ])
  const keys = new Map<string, KeyObject>(
    input.jwks.keys.map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]),
  )
  const parsed = input.tokens.map((token) => {
    const [header, payload, signature] = token.split('.') as [string, string, string]
    const kid = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { kid: string })
      .kid
    const key = keys.get(kid)
    if (!key) throw new Error('an exchanged token names a key the IdP does not publish')
    return {
      input: Buffer.from(`${header}.${payload}`, 'ascii'),
      signature: Buffer.from(signature, 'base64url'),
      key: { key, dsaEncoding: 'ieee-p1363' as const },
    }
  })
  // Warm-up, and proof that every token passes App B's checks (a refusal would be cheap).
  for (const token of input.tokens) await verifier(token)
  for (const p of parsed) {
    if (!verify('sha256', p.input, p.key, p.signature)) throw new Error('bare verify refused')
  }
  const verifierRounds: number[] = []
  const floorRounds: number[] = []
  let next = 0
  const bare = () => {
    const p = parsed[next++ % parsed.length]!
    verify('sha256', p.input, p.key, p.signature)
  }
  for (let r = 0; r < input.rounds; r++) {
    verifierRounds.push(await usPerToken(input.tokens, verifier, input.roundMs))
    floorRounds.push(await usPerToken(input.tokens, bare, input.roundMs))
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const verifierUs = median(verifierRounds)
  const es256VerifyUs = median(floorRounds)
  return {
    tokens: input.tokens.length,
    verifierUs: round(verifierUs, 1),
    es256VerifyUs: round(es256VerifyUs, 1),
    ratio: round(verifierUs / es256VerifyUs, 2),
  }
}
