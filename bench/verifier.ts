/**
 * Micro-benchmark of access-token verification at a resource server (issue 8, docs/performance.md),
 * one token at a time on one thread, in one run: jose `jwtVerify` with a key set (what
 * src/resource/verifier.ts did before: WebCrypto, an async job per token) against
 * `createAccessTokenVerifier` now (node:crypto with a KeyObject parsed once, src/exchange/jwt +
 * src/resource checks), with a bare ES256 `crypto.verify` as the floor.
 *
 *   node --import tsx bench/verifier.ts [--rounds 5] [--ms 400]
 */
import { generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createLocalJWKSet, jwtVerify, type JWK } from 'jose'
import { createAccessTokenVerifier } from '../src/resource/index.js'

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, ms: { type: 'string', default: '400' } },
})
const ROUNDS = Number(values.rounds)
const ROUND_MS = Number(values.ms)

const ISSUER = 'http://127.0.0.1:9000'
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' } as JWK
const now = Math.floor(Date.now() / 1000)
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })}.${b64({
  iss: ISSUER,
  sub: 'user-alice',
  aud: 'app-b',
  client_id: 'app-a',
  azp: 'app-a',
  act: { sub: 'app-a' },
  scope: 'openid todos:read',
  iat: now,
  exp: now + 3600,
  jti: randomUUID(),
})}`
const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
const token = `${input}.${signature.toString('base64url')}`

const jwks = createLocalJWKSet({ keys: [jwk] })
const before = () =>
  jwtVerify(token, jwks, {
    algorithms: ['ES256'],
    typ: 'at+jwt',
    issuer: ISSUER,
    audience: 'app-b',
    clockTolerance: 30,
    requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'],
  })
const verifier = createAccessTokenVerifier({
  issuer: ISSUER,
  audience: 'app-b',
  keyResolver: ({ kid }) => (kid === 'k1' ? publicKey : undefined),
  allowedCallers: ['app-a'],
  requiredScopes: ['todos:read'],
  // One token over and over: with the verified-token cache on, every call after the first is a
  // lookup, not a verification.
  verifiedTokenCache: false,
})
const after = () => verifier(token)
const floor = async () => {
  verify('sha256', Buffer.from(input), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)
}

async function nsPerOp(operation: () => Promise<unknown>, ms: number): Promise<number> {
  for (let i = 0; i < 200; i++) await operation()
  const started = process.hrtime.bigint()
  const budget = BigInt(ms) * 1_000_000n
  let count = 0
  while (process.hrtime.bigint() - started < budget) {
    for (let i = 0; i < 50; i++) await operation()
    count += 50
  }
  return Number(process.hrtime.bigint() - started) / count
}

const variants = {
  'before: jose jwtVerify (WebCrypto)': before,
  'after: createAccessTokenVerifier': after,
  'floor: crypto.verify only': floor,
}
const samples = new Map(Object.keys(variants).map((name) => [name, [] as number[]]))
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, operation] of Object.entries(variants)) {
    samples.get(name)!.push(await nsPerOp(operation, ROUND_MS))
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const beforeNs = median(samples.get('before: jose jwtVerify (WebCrypto)')!)
console.log(
  `ES256 access-token verification, ${ROUNDS} rounds × ${ROUND_MS} ms, median; node ${process.version}`,
)
for (const [name, xs] of samples) {
  const ns = median(xs)
  console.log(
    `  ${name.padEnd(36)} ${(ns / 1000).toFixed(1).padStart(7)} µs  ${Math.round(1e9 / ns)
      .toLocaleString('en-US')
      .padStart(7)}/s  ${(beforeNs / ns).toFixed(2)}× vs before`,
  )
}
