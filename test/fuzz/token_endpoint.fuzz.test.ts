/**
 * Property-based fuzzing of the IdP token endpoint over HTTP (issue 5 item 5): malformed requests —
 * random and repeated parameters, huge values, broken and re-signed JWTs, wrong content types,
 * random grant types carrying the exchange parameters, odd client authentication. Properties: never
 * a 5xx, never an access token, always an RFC 6749 JSON error (`error` a known code,
 * `error_description` a string).
 *
 * FUZZ_RUNS (default 5000) requests per run, FUZZ_CONCURRENCY (default 4) at a time, FUZZ_SEED to
 * replay a failure (the seed is printed at the start of every run). Rate limits are off on this IdP.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { basicAuth, loginForTokens, type LoginTokens, type Stack } from '../helpers/stack.js'
import { accessTokenClaims, b64, signJwt, startLiveIdp } from '../security/helpers.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 5000)
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 4)
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))

const KNOWN_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'unsupported_token_type',
  'temporarily_unavailable',
])

const TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:'
const EXCHANGE_PARAMS = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'audience',
  'resource',
  'scope',
] as const
const OTHER_PARAMS = [
  'client_id',
  'client_secret',
  'code',
  'redirect_uri',
  'code_verifier',
  'refresh_token',
  'client_assertion',
  'client_assertion_type',
  'grant_type',
  '__proto__',
  'constructor',
]

interface FuzzRequest {
  readonly fields: ReadonlyArray<readonly [string, string]>
  readonly contentType: string | undefined
  readonly encoding: 'form' | 'json' | 'raw'
  readonly raw: string
  readonly auth: 'app-a' | 'app-b' | 'wrong' | 'garbage' | 'none' | 'bearer'
}

describe('fuzz: IdP token endpoint', () => {
  let stack: Stack
  let demo: LoginTokens
  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' })

  before(async () => {
    stack = await startLiveIdp({ abuseLimits: { enabled: false } })
    demo = await loginForTokens(stack, { username: 'demo' })
  })
  after(() => stack?.close())

  /** Token-shaped values: broken, truncated, re-signed (never the intact, registered demo token). */
  function tokenArb(): fc.Arbitrary<string> {
    const realPayload = () =>
      JSON.parse(Buffer.from(demo.access_token.split('.')[1]!, 'base64url').toString())
    const claimValue = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.object({ maxDepth: 2 }),
    )
    const claimsArb = fc.record(
      {
        sub: claimValue,
        aud: fc.oneof(fc.constantFrom('app-a', 'app-b', ''), claimValue),
        scope: fc.oneof(fc.constantFrom('todos:read', 'todos:read todos:write'), claimValue),
        exp: fc.oneof(fc.integer(), fc.constant(Math.floor(Date.now() / 1000) + 300)),
        act: fc.oneof(
          fc.constant(undefined),
          claimValue,
          fc.constant({ sub: 'app-b', act: { sub: 'app-b' } }),
        ),
        may_act: fc.oneof(fc.constant(undefined), claimValue),
        extra: claimValue,
      },
      { requiredKeys: [] },
    )
    const headerArb = fc.record(
      {
        alg: fc.constantFrom('ES256', 'none', 'HS256', 'RS256', 'EdDSA', 'ES384', ''),
        typ: fc.constantFrom('at+jwt', 'JWT', 'logout+jwt', 'application/at+jwt'),
        kid: fc.oneof(fc.constant(stack.idp.keys.active.kid), fc.string(), fc.integer()),
        crit: fc.constantFrom(undefined, ['exp'], [], 'x'),
        jku: fc.constantFrom(undefined, 'https://evil.example/jwks'),
      },
      { requiredKeys: ['alg'] },
    )
    return fc.oneof(
      // random bytes and random segment counts
      fc.string({ maxLength: 200 }),
      fc
        .array(fc.base64String({ maxLength: 80 }), { minLength: 1, maxLength: 5 })
        .map((parts) => parts.join('.')),
      // the real token, damaged
      fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 3 })).map(([at, insert]) => {
        const position = at % demo.access_token.length
        const damaged =
          demo.access_token.slice(0, position) + insert + demo.access_token.slice(position + 1)
        // Never the intact token: that one would rightly be exchanged.
        return damaged === demo.access_token ? `${damaged}x` : damaged
      }),
      fc.nat().map((cut) => demo.access_token.slice(0, cut % demo.access_token.length)),
      fc.constant(demo.id_token),
      // demo's refresh token, one character changed (intact, the refresh grant would rightly answer)
      fc.constant(
        `${(demo.refresh_token ?? 'none').slice(0, -1)}${demo.refresh_token?.endsWith('A') ? 'B' : 'A'}`,
      ),
      // unsigned / arbitrary header with arbitrary claims
      fc
        .tuple(headerArb, claimsArb, fc.base64String({ maxLength: 90 }))
        .map(
          ([header, claims, sig]) =>
            `${b64(header)}.${b64({ ...realPayload(), ...claims })}.${sig.replace(/=+$/, '')}`,
        ),
      // re-signed with an attacker key that claims the IdP's kid
      fc.tuple(claimsArb, fc.option(headerArb)).map(([claims, header]) =>
        signJwt(
          stack,
          { ...realPayload(), ...claims },
          { ...(header ?? {}), alg: 'ES256' },
          {
            kid: stack.idp.keys.active.kid,
            privateKey: attacker.privateKey,
          },
        ),
      ),
      // re-signed with the IdP's own key, but never issued (fresh jti)
      claimsArb.map((claims) =>
        signJwt(stack, { ...accessTokenClaims(stack), ...claims, jti: randomUUID() }),
      ),
    )
  }

  function valueArb(): fc.Arbitrary<string> {
    return fc.oneof(
      { weight: 4, arbitrary: tokenArb() },
      { weight: 3, arbitrary: fc.string({ maxLength: 60 }) },
      {
        weight: 2,
        arbitrary: fc
          .constantFrom('access_token', 'jwt', 'id_token', 'refresh_token', 'saml2', 'bogus')
          .map((t) => TOKEN_TYPE + t),
      },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          'app-a',
          'app-b',
          'app-c',
          '',
          ' ',
          'todos:read todos:write',
          'openid',
          'https://app-b.example',
          'http://127.0.0.1/#x',
        ),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            fc.constantFrom('A', '%', '&', '=', 'é', '\u0000'),
            fc.integer({ min: 1000, max: 70_000 }),
          )
          .map(([c, n]) => c.repeat(n)),
      },
    )
  }

  const grantArb = fc.oneof(
    { weight: 6, arbitrary: fc.constant('urn:ietf:params:oauth:grant-type:token-exchange') },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'password',
        'implicit',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        'urn:ietf:params:oauth:grant-type:device_code',
        'urn:ietf:params:oauth:grant-type:token-exchange ',
        'URN:IETF:PARAMS:OAUTH:GRANT-TYPE:TOKEN-EXCHANGE',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  )

  /** Built once the IdP is up (token values need its key and demo's token). */
  const buildRequestArb = (): fc.Arbitrary<FuzzRequest> =>
    fc
      .record({
        fields: fc
          .tuple(
            fc.option(grantArb, { freq: 10 }),
            fc.array(
              fc.tuple(
                fc.oneof(
                  fc.constantFrom(...EXCHANGE_PARAMS),
                  fc.constantFrom(...OTHER_PARAMS),
                  fc.string({ maxLength: 12 }),
                ),
                valueArb(),
              ),
              { maxLength: 10 },
            ),
          )
          .map(([grant, rest]) =>
            grant === null ? rest : [['grant_type', grant] as const, ...rest],
          ),
        contentType: fc.constantFrom(
          'application/x-www-form-urlencoded',
          'application/x-www-form-urlencoded',
          'application/x-www-form-urlencoded',
          'application/x-www-form-urlencoded; charset=iso-8859-1',
          'application/json',
          'text/plain',
          'multipart/form-data; boundary=x',
          'application/xml',
          undefined,
        ),
        encoding: fc.constantFrom('form', 'form', 'form', 'json', 'raw'),
        raw: fc.string({ maxLength: 300 }),
        auth: fc.constantFrom('app-a', 'app-a', 'app-b', 'wrong', 'garbage', 'none', 'bearer'),
      })
      .map((request) =>
        // app-a may use client_credentials by policy (the M2M comparison): a well-formed request
        // rightly gets a token, so that one combination is sent without client authentication.
        request.auth === 'app-a' &&
        request.fields.some(
          ([name, value]) => name === 'grant_type' && value === 'client_credentials',
        )
          ? { ...request, auth: 'none' as const }
          : request,
      )

  function bodyOf(request: FuzzRequest): string {
    if (request.encoding === 'raw') return request.raw
    if (request.encoding === 'json') return JSON.stringify(Object.fromEntries(request.fields))
    const form = new URLSearchParams()
    for (const [name, value] of request.fields) form.append(name, value)
    return form.toString()
  }

  function authOf(request: FuzzRequest): string | undefined {
    switch (request.auth) {
      case 'app-a':
        return basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET)
      case 'app-b':
        return basicAuth('app-b', stack.env.APP_B_CLIENT_SECRET)
      case 'wrong':
        return basicAuth('app-a', 'wrong-secret-wrong-secret-wrong-secret')
      case 'garbage':
        return `Basic ${Buffer.from('no-colon').toString('base64')}==`
      case 'bearer':
        return `Bearer ${demo.access_token}`
      case 'none':
        return undefined
    }
  }

  async function send(request: FuzzRequest): Promise<void> {
    const headers: Record<string, string> = {}
    if (request.contentType !== undefined) headers['content-type'] = request.contentType
    const auth = authOf(request)
    if (auth !== undefined) headers.authorization = auth
    const response = await fetch(`${stack.idp.issuer}/token`, {
      method: 'POST',
      headers,
      body: bodyOf(request),
    })
    const text = await response.text()
    const context = `status ${response.status}, body ${text.slice(0, 300)}`
    assert.ok(response.status < 500, `never a 5xx: ${context}`)
    assert.ok(response.status >= 400, `always an error status: ${context}`)
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/, context)
    let body: Record<string, unknown>
    try {
      body = JSON.parse(text) as Record<string, unknown>
    } catch {
      assert.fail(`body is not JSON: ${context}`)
    }
    assert.equal(body.access_token, undefined, `never a token: ${context}`)
    assert.equal(body.refresh_token, undefined, `never a token: ${context}`)
    assert.ok(
      typeof body.error === 'string' && KNOWN_ERRORS.has(body.error),
      `known error code: ${context}`,
    )
    assert.equal(typeof body.error_description, 'string', `error_description: ${context}`)
  }

  it(
    `fuzz: ${RUNS} malformed token requests never give a 5xx, a token or a non-RFC 6749 error`,
    { timeout: 180_000 },
    async (t) => {
      t.diagnostic(
        `fast-check seed ${SEED} (replay with FUZZ_SEED=${SEED}), ${RUNS} requests, concurrency ${CONCURRENCY}`,
      )
      console.log(`# token endpoint fuzz: seed ${SEED}, runs ${RUNS}`)
      const started = Date.now()
      let sent = 0
      await fc.assert(
        fc.asyncProperty(
          fc.array(buildRequestArb(), { minLength: CONCURRENCY, maxLength: CONCURRENCY }),
          async (batch) => {
            sent += batch.length
            await Promise.all(batch.map(send))
          },
        ),
        { seed: SEED, numRuns: Math.ceil(RUNS / CONCURRENCY), endOnFailure: false },
      )
      t.diagnostic(`${sent} requests in ${Date.now() - started} ms`)
    },
  )
})
