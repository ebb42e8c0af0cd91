/**
 * Property-based fuzzing of the resource kit (src/resource): `createAccessTokenVerifier` behind the
 * `requireBearer` hook, over HTTP with keys from a live JWKS. Malformed Authorization headers and
 * bearer tokens (random strings, broken JWTs, wrong schemes, tokens signed with the right key but
 * at least one fatal flaw, tokens in the query) must never give a 5xx or a 200: always 400/401
 * with `invalid_token` or `invalid_request` and a `WWW-Authenticate: Bearer` challenge.
 *
 * BEARER_FUZZ_RUNS (default 2000), FUZZ_CONCURRENCY (default 4), FUZZ_SEED to replay.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import fc from 'fast-check'
import {
  b64url,
  baseClaims,
  createTestKey,
  signRaw,
  startJwksServer,
  type JwksServer,
  type TestKey,
} from '../resource/helpers.js'
import { startProtectedApi } from '../security/protected_api.js'

const RUNS = Number(process.env.BEARER_FUZZ_RUNS ?? 2000)
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 4)
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))

/** Each token signed with the right key carries one of these; any one must be fatal. */
const FLAWS = [
  'typ',
  'aud',
  'iss',
  'exp',
  'alg-header',
  'crit',
  'jku',
  'missing-claim',
  'nbf',
  'azp',
] as const

describe('fuzz: resource server bearer verification', () => {
  let key: TestKey
  let jwks: JwksServer
  let api: { app: FastifyInstance; url: string }

  before(async () => {
    key = await createTestKey()
    jwks = await startJwksServer([key])
    api = await startProtectedApi(jwks)
    // Fetch the key set once before the property runs: on a loaded machine the first concurrent
    // requests could otherwise wait on that fetch past its timeout (a 503 that is not a fuzz find).
    const warm = await fetch(api.url, {
      headers: {
        authorization: `Bearer ${await signRaw(key, { alg: 'ES256', typ: 'at+jwt', kid: key.kid }, baseClaims())}`,
      },
    })
    assert.equal(warm.status, 200, 'a valid token is accepted before fuzzing')
  })
  after(async () => {
    await api?.app.close()
    await jwks?.close()
  })

  const printable = (maxLength: number) =>
    fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength,
    })
  const b64token = fc.string({
    unit: fc.constantFrom(...'ABCxyz019-._~+/'.split('')),
    minLength: 1,
    maxLength: 200,
  })
  const claimValue = fc.oneof(
    printable(20),
    fc.integer(),
    fc.constant(null),
    fc.array(printable(8), { maxLength: 3 }),
    fc.object({ maxDepth: 2 }),
  )

  function flawedToken(): fc.Arbitrary<Promise<string>> {
    return fc
      .tuple(
        fc.constantFrom(...FLAWS),
        fc.dictionary(
          fc.constantFrom('sub', 'scope', 'act', 'client_id', 'jti', 'may_act', 'x'),
          claimValue,
        ),
        claimValue,
      )
      .map(async ([flaw, extra, junk]) => {
        const header: Record<string, unknown> = { alg: 'ES256', typ: 'at+jwt', kid: key.kid }
        const claims: Record<string, unknown> = { ...baseClaims(), ...extra }
        switch (flaw) {
          case 'typ':
            header.typ = typeof junk === 'string' && junk.toLowerCase() !== 'at+jwt' ? junk : 'JWT'
            break
          case 'aud':
            claims.aud = junk === 'app-b' ? 'app-c' : junk
            break
          case 'iss':
            claims.iss = junk === baseClaims().iss ? 'x' : junk
            break
          case 'exp':
            claims.exp = typeof junk === 'number' ? Math.min(junk, 1000) : junk
            break
          case 'alg-header':
            header.alg = 'ES384'
            break
          case 'crit':
            header.crit = ['exp']
            break
          case 'jku':
            header.jku = 'https://evil.example/jwks'
            break
          case 'missing-claim':
            delete claims[
              ['iss', 'sub', 'aud', 'exp', 'client_id', 'jti', 'iat'][
                (typeof junk === 'number' && Number.isFinite(junk) ? Math.abs(junk) : 0) % 7
              ]!
            ]
            break
          case 'nbf':
            claims.nbf = Math.floor(Date.now() / 1000) + 3600
            break
          case 'azp':
            claims.azp = 'someone-else'
            break
        }
        return signRaw(key, header, claims)
      })
  }

  const tokenArb: fc.Arbitrary<Promise<string>> = fc.oneof(
    flawedToken(),
    printable(120).map(async (s) => s),
    b64token.map(async (s) => s),
    fc
      .tuple(fc.array(b64token, { minLength: 2, maxLength: 5 }))
      .map(async ([parts]) => parts.join('.')),
    fc
      .tuple(fc.object({ maxDepth: 2 }), fc.object({ maxDepth: 2 }), b64token)
      .map(async ([h, p, s]) => `${b64url(h)}.${b64url(p)}.${s}`),
    fc
      .constant(null)
      .map(async () => `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url(baseClaims())}.`),
    fc.integer({ min: 8000, max: 15_000 }).map(async (n) => 'A'.repeat(n)),
  )

  const requestArb = fc.record({
    scheme: fc.constantFrom(
      'Bearer ',
      'bearer ',
      'BEARER  ',
      'Basic ',
      'Bearer',
      'Token ',
      'DPoP ',
      '',
    ),
    token: tokenArb,
    noHeader: fc.boolean().map((b) => b && Math.random() < 0.2),
    inQuery: fc.boolean().map((b) => b && Math.random() < 0.2),
  })

  async function send(request: {
    scheme: string
    token: Promise<string>
    noHeader: boolean
    inQuery: boolean
  }): Promise<void> {
    const token = await request.token
    const headers: Record<string, string> = {}
    if (!request.noHeader) headers.authorization = `${request.scheme}${token}`
    const headerBytes = headers.authorization?.length ?? 0
    const url = request.inQuery ? `${api.url}?access_token=${encodeURIComponent(token)}` : api.url
    const response = await fetch(url, { headers })
    const text = await response.text()
    const context = `status ${response.status}, body ${text.slice(0, 200)}, header ${headers.authorization?.slice(0, 80)}`
    // Header and URL together beyond Node's 16 KiB cap: Node answers 431 itself, before any route.
    if (response.status === 431 && headerBytes + url.length > 16_000) return
    assert.ok(response.status === 400 || response.status === 401, `400/401 only: ${context}`)
    const body = JSON.parse(text) as Record<string, unknown>
    assert.ok(body.error === 'invalid_token' || body.error === 'invalid_request', context)
    assert.equal(typeof body.error_description, 'string', context)
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm="app-b"/, context)
  }

  it(
    `fuzz: ${RUNS} malformed bearer requests are always 400/401 invalid_token|invalid_request with a challenge`,
    { timeout: 120_000 },
    async (t) => {
      t.diagnostic(`fast-check seed ${SEED} (replay with FUZZ_SEED=${SEED}), ${RUNS} requests`)
      console.log(`# bearer fuzz: seed ${SEED}, runs ${RUNS}`)
      const started = Date.now()
      await fc.assert(
        fc.asyncProperty(
          fc.array(requestArb, { minLength: CONCURRENCY, maxLength: CONCURRENCY }),
          async (batch) => {
            await Promise.all(batch.map(send))
          },
        ),
        { seed: SEED, numRuns: Math.ceil(RUNS / CONCURRENCY) },
      )
      t.diagnostic(`${RUNS} requests in ${Date.now() - started} ms`)
    },
  )
})
