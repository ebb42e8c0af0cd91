import assert from 'node:assert/strict'
import { createHmac, generateKeyPairSync, KeyObject } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import {
  createAccessTokenVerifier,
  ResourceAuthError,
  type AccessTokenVerifierOptions,
} from '../../src/resource/index.js'
import {
  AUDIENCE,
  ISSUER,
  b64url,
  baseClaims,
  createTestKey,
  signAccessToken,
  signRaw,
  startJwksServer,
  type JwksServer,
  type TestKey,
} from './helpers.js'

let key: TestKey
let jwks: JwksServer

before(async () => {
  key = await createTestKey('key-1')
  jwks = await startJwksServer([key])
})
after(() => jwks.close())

function verifier(options: Partial<AccessTokenVerifierOptions> = {}) {
  return createAccessTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: jwks.url,
    allowedCallers: ['app-a'],
    requiredScopes: ['todos:read'],
    ...options,
  })
}

async function rejects(
  promise: Promise<unknown>,
  expected: { error: string; statusCode: number; detail?: RegExp; causeCode?: string },
): Promise<ResourceAuthError> {
  try {
    await promise
  } catch (err) {
    assert.ok(err instanceof ResourceAuthError, `expected ResourceAuthError, got ${String(err)}`)
    assert.equal(err.error, expected.error)
    assert.equal(err.statusCode, expected.statusCode)
    if (expected.detail) assert.match(err.detail, expected.detail)
    if (expected.causeCode) assert.equal((err.cause as { code?: string }).code, expected.causeCode)
    return err
  }
  assert.fail('expected a rejection')
}

const invalidToken = { error: 'invalid_token', statusCode: 401 }

describe('createAccessTokenVerifier when the token is good', () => {
  test('then a delegated token yields user, client and current actor', async () => {
    const token = await signAccessToken(key)
    const verified = await verifier()(token)
    assert.equal(verified.sub, 'user-alice')
    assert.equal(verified.clientId, 'app-a')
    assert.equal(verified.azp, 'app-a')
    assert.equal(verified.caller, 'app-a')
    assert.deepEqual(verified.actorChain, ['app-a'])
    assert.deepEqual(verified.scopes, ['todos:read'])
    assert.equal(typeof verified.jti, 'string')
    assert.equal(verified.jti, verified.claims.jti)
    assert.equal(verified.exp, verified.claims.exp)
    assert.ok(Object.isFrozen(verified))
  })

  test('then a token without act names its client as caller', async () => {
    const token = await signAccessToken(key, { omit: ['act', 'azp'] })
    const verified = await verifier()(token)
    assert.equal(verified.caller, 'app-a')
    assert.equal(verified.azp, 'app-a')
    assert.deepEqual(verified.actorChain, [])
  })

  test('then nested actors are listed outermost first and only the outermost is policed', async () => {
    const token = await signAccessToken(key, {
      claims: { act: { sub: 'app-a', act: { sub: 'some-gateway', act: { sub: 'edge' } } } },
    })
    const verified = await verifier()(token)
    assert.equal(verified.caller, 'app-a')
    assert.deepEqual(verified.actorChain, ['app-a', 'some-gateway', 'edge'])
  })

  test('then an expiry within the clock tolerance is accepted', async () => {
    const now = Math.floor(Date.now() / 1000)
    const token = await signAccessToken(key, { claims: { exp: now - 10, iat: now - 100 } })
    assert.equal((await verifier()(token)).sub, 'user-alice')
  })

  test('then audience arrays and application/at+jwt are accepted', async () => {
    const token = await signAccessToken(key, {
      header: { typ: 'application/at+jwt' },
      claims: { aud: ['other', AUDIENCE] },
    })
    assert.equal((await verifier()(token)).sub, 'user-alice')
  })
})

describe('createAccessTokenVerifier when the token is bad then invalid_token', () => {
  test('expired', async () => {
    const now = Math.floor(Date.now() / 1000)
    const token = await signAccessToken(key, { claims: { exp: now - 31, iat: now - 400 } })
    const err = await rejects(verifier()(token), { ...invalidToken, causeCode: 'ERR_JWT_EXPIRED' })
    assert.equal(err.description, 'the access token is invalid')
  })

  test('not yet valid (nbf)', async () => {
    const nbf = Math.floor(Date.now() / 1000) + 120
    const token = await signAccessToken(key, { claims: { nbf } })
    await rejects(verifier()(token), { ...invalidToken, detail: /claim nbf/ })
  })

  test('wrong audience', async () => {
    const token = await signAccessToken(key, { claims: { aud: 'app-c' } })
    await rejects(verifier()(token), { ...invalidToken, detail: /claim aud/ })
  })

  test('wrong issuer', async () => {
    const token = await signAccessToken(key, { claims: { iss: 'http://evil.example' } })
    await rejects(verifier()(token), { ...invalidToken, detail: /claim iss/ })
  })

  test('typ JWT: an ID token presented as an access token', async () => {
    const token = await signAccessToken(key, {
      header: { typ: 'JWT' },
      claims: { aud: AUDIENCE, nonce: 'n', auth_time: 1 },
    })
    await rejects(verifier()(token), { ...invalidToken, detail: /claim typ/ })
  })

  test('no typ at all', async () => {
    const claims = baseClaims()
    const token = await signRaw(key, { alg: 'ES256', kid: key.kid }, claims)
    await rejects(verifier()(token), { ...invalidToken, detail: /claim typ/ })
  })

  test('alg none', async () => {
    const token = `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url(baseClaims())}.`
    await rejects(verifier()(token), { ...invalidToken, causeCode: 'ERR_JOSE_ALG_NOT_ALLOWED' })
  })

  test('HS256 signed with the public key as the secret', async () => {
    const input = `${b64url({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })}.${b64url(baseClaims())}`
    for (const secret of [JSON.stringify(key.publicJwk), key.publicJwk.x ?? '']) {
      const sig = createHmac('sha256', secret).update(input).digest('base64url')
      await rejects(verifier()(`${input}.${sig}`), {
        ...invalidToken,
        causeCode: 'ERR_JOSE_ALG_NOT_ALLOWED',
      })
    }
  })

  test('signature by another key under a known kid', async () => {
    const forger = await createTestKey(key.kid)
    const token = await signAccessToken(forger)
    await rejects(verifier()(token), {
      ...invalidToken,
      causeCode: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    })
  })

  test('unknown crit header', async () => {
    const header = {
      alg: 'ES256',
      typ: 'at+jwt',
      kid: key.kid,
      crit: ['urn:x:must'],
      'urn:x:must': 1,
    }
    const token = await signRaw(key, header, baseClaims())
    await rejects(verifier()(token), { ...invalidToken, causeCode: 'ERR_JOSE_NOT_SUPPORTED' })
  })

  test('header-supplied key locations are refused, never fetched', async () => {
    for (const name of ['jku', 'x5u', 'jwk']) {
      const value = name === 'jwk' ? key.publicJwk : 'http://127.0.0.1:1/keys'
      const token = await signAccessToken(key, { header: { [name]: value } })
      await rejects(verifier()(token), { ...invalidToken, detail: new RegExp(name) })
    }
  })

  test('an x5c certificate chain in the header is refused too', async () => {
    const token = await signAccessToken(key, { header: { x5c: ['MIIB'] } })
    await rejects(verifier()(token), { ...invalidToken, detail: /x5c/ })
  })

  for (const claim of ['sub', 'client_id', 'jti', 'iat', 'exp']) {
    test(`missing ${claim}`, async () => {
      const token = await signAccessToken(key, { omit: [claim] })
      await rejects(verifier()(token), { ...invalidToken, detail: new RegExp(claim) })
    })
  }

  test('claims of the wrong type', async () => {
    for (const claims of [
      { sub: 42 },
      { client_id: ['app-a'] },
      { scope: ['todos:read'] },
      { act: 'app-a' },
    ]) {
      const token = await signAccessToken(key, { claims: claims as never })
      await rejects(verifier()(token), invalidToken)
    }
  })

  test('azp differing from client_id', async () => {
    const token = await signAccessToken(key, { claims: { azp: 'app-c' } })
    await rejects(verifier()(token), { ...invalidToken, detail: /azp/ })
  })

  test('act nested deeper than the cap', async () => {
    let act: Record<string, unknown> = { sub: 'deep' }
    for (let i = 0; i < 9; i++) act = { sub: `a${i}`, act }
    const token = await signAccessToken(key, { claims: { act: { sub: 'app-a', act } } })
    await rejects(verifier()(token), { ...invalidToken, detail: /too deep/ })
  })

  test('garbage and oversized input', async () => {
    await rejects(verifier()('not.a.jwt'), invalidToken)
    await rejects(verifier()('x'.repeat(9000)), { ...invalidToken, detail: /too long/ })
  })
})

describe('createAccessTokenVerifier key rotation', () => {
  test('when the kid is unknown then invalid_token, and a rotated key is fetched', async () => {
    const server = await startJwksServer([key])
    try {
      const verify = verifier({ jwksUri: server.url, jwksOptions: { cooldownDuration: 0 } })
      await verify(await signAccessToken(key))
      assert.equal(server.fetches(), 1)

      const next = await createTestKey('key-2')
      const tokenFromNext = await signAccessToken(next)
      await rejects(verify(tokenFromNext), {
        ...invalidToken,
        causeCode: 'ERR_JWKS_NO_MATCHING_KEY',
      })
      assert.equal(server.fetches(), 2, 'an unknown kid triggers one refetch')

      server.keys = [key, next]
      assert.equal((await verify(tokenFromNext)).sub, 'user-alice')
      assert.equal(server.fetches(), 3)
    } finally {
      await server.close()
    }
  })

  test('when unknown kids arrive together then they share one refetch and each is invalid_token', async () => {
    const server = await startJwksServer([key])
    try {
      const verify = verifier({ jwksUri: server.url })
      await verify(await signAccessToken(key))
      const stranger = await createTestKey('key-stranger')
      const tokens = await Promise.all(Array.from({ length: 5 }, () => signAccessToken(stranger)))
      await Promise.all(tokens.map((token) => rejects(verify(token), invalidToken)))
      assert.equal(server.fetches(), 2, 'one refetch for five unknown kids')
    } finally {
      await server.close()
    }
  })

  test('when an unknown kid is refused then a valid new kid right after is still accepted', async () => {
    const server = await startJwksServer([key])
    try {
      const verify = verifier({ jwksUri: server.url, jwksOptions: { cooldownDuration: 300 } })
      await verify(await signAccessToken(key))
      await rejects(verify(await signAccessToken(await createTestKey('forged'))), invalidToken)
      const next = await createTestKey('key-2')
      server.keys = [key, next]
      // Inside the interval: it waits for the next fetch instead of being judged on the old one.
      assert.equal((await verify(await signAccessToken(next))).sub, 'user-alice')
      assert.equal(server.fetches(), 3)
    } finally {
      await server.close()
    }
  })

  test('when the key set is unreachable then temporarily_unavailable, not invalid_token', async () => {
    const server = await startJwksServer([key])
    await server.close()
    const verify = verifier({ jwksUri: server.url })
    const err = await rejects(verify(await signAccessToken(key)), {
      error: 'temporarily_unavailable',
      statusCode: 503,
    })
    assert.ok(err.cause)
  })
})

describe('createAccessTokenVerifier key set cache', () => {
  test('when many tokens arrive before the first fetch then they share one fetch', async () => {
    const server = await startJwksServer([key])
    try {
      const verify = verifier({ jwksUri: server.url })
      const tokens = await Promise.all(Array.from({ length: 20 }, () => signAccessToken(key)))
      const verified = await Promise.all(tokens.map((token) => verify(token)))
      assert.equal(verified.length, 20)
      assert.equal(server.fetches(), 1)
      await verify(await signAccessToken(key))
      assert.equal(server.fetches(), 1, 'then answered from the cache')
    } finally {
      await server.close()
    }
  })

  test('when the key set goes down after a fetch then the cached keys keep serving', async (t) => {
    const server = await startJwksServer([key])
    t.after(() => server.close())
    const verify = verifier({
      jwksUri: server.url,
      jwksOptions: { cacheMaxAge: 0, cooldownDuration: 0 },
    })
    await verify(await signAccessToken(key))
    await server.close()
    assert.equal((await verify(await signAccessToken(key))).sub, 'user-alice')
  })

  test('when the stale window is over too then temporarily_unavailable', async (t) => {
    // A fake clock: only Date moves (timers stay real, so the HTTP fetches behave as usual).
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
    const server = await startJwksServer([key])
    t.after(() => server.close())
    const verify = verifier({
      jwksUri: server.url,
      jwksOptions: { cacheMaxAge: 200, cooldownDuration: 0, staleIfErrorDuration: 0 },
    })
    await verify(await signAccessToken(key))
    await server.close()
    t.mock.timers.tick(250)
    await rejects(verify(await signAccessToken(key)), {
      error: 'temporarily_unavailable',
      statusCode: 503,
      detail: /key set unavailable/,
    })
  })
})

describe('createAccessTokenVerifier caller policy', () => {
  test('when act.sub is not allowed though azp is then insufficient_scope 403', async () => {
    const token = await signAccessToken(key, { claims: { act: { sub: 'app-evil' } } })
    await rejects(verifier()(token), {
      error: 'insufficient_scope',
      statusCode: 403,
      detail: /caller app-evil/,
    })
  })

  test('when act.sub is allowed but azp/client_id is not then 403', async () => {
    const token = await signAccessToken(key, { claims: { client_id: 'app-evil', azp: 'app-evil' } })
    await rejects(verifier()(token), {
      error: 'insufficient_scope',
      statusCode: 403,
      detail: /client_id app-evil/,
    })
  })

  test('when there is no act and the client is not allowed then 403', async () => {
    const token = await signAccessToken(key, {
      claims: { client_id: 'app-c', azp: 'app-c' },
      omit: ['act'],
    })
    await rejects(verifier()(token), { error: 'insufficient_scope', statusCode: 403 })
  })

  test('when a required scope is missing then insufficient_scope naming the scope', async () => {
    const token = await signAccessToken(key, { claims: { scope: 'openid todos:write' } })
    const err = await rejects(verifier()(token), {
      error: 'insufficient_scope',
      statusCode: 403,
      detail: /todos:read/,
    })
    assert.deepEqual(err.requiredScopes, ['todos:read'])
  })

  test('when no allowedCallers are configured then any caller passes', async () => {
    const token = await signAccessToken(key, { claims: { act: { sub: 'app-x' } } })
    assert.equal((await verifier({ allowedCallers: undefined })(token)).caller, 'app-x')
  })
})

describe('createAccessTokenVerifier options', () => {
  const good = { issuer: ISSUER, audience: AUDIENCE, jwksUri: 'http://127.0.0.1:1/jwks' }
  const misuses: [string, Record<string, unknown>][] = [
    ['no issuer', { ...good, issuer: '' }],
    ['no audience', { ...good, audience: undefined }],
    ['no key source', { issuer: ISSUER, audience: AUDIENCE }],
    ['two key sources', { ...good, keyResolver: () => KeyObject.from(key.publicKey) }],
    ['a relative jwksUri', { ...good, jwksUri: '/jwks' }],
    ['a non-http jwksUri', { ...good, jwksUri: 'file:///etc/jwks' }],
    ['HS256 allowed', { ...good, algorithms: ['ES256', 'HS256'] }],
    ['none allowed', { ...good, algorithms: ['none'] }],
    ['no algorithms', { ...good, algorithms: [] }],
    ['negative tolerance', { ...good, clockToleranceSeconds: -1 }],
    ['NaN tolerance', { ...good, clockToleranceSeconds: Number.NaN }],
    ['empty allowedCallers', { ...good, allowedCallers: [] }],
    ['a scope with a space', { ...good, requiredScopes: ['a b'] }],
    ['an unsupported algorithm', { ...good, algorithms: ['ES256K'] }],
    ['a negative cooldown', { ...good, jwksOptions: { cooldownDuration: -1 } }],
    ['a NaN cache age', { ...good, jwksOptions: { cacheMaxAge: Number.NaN } }],
  ]
  for (const [name, options] of misuses) {
    test(`when given ${name} then TypeError`, () => {
      assert.throws(() => createAccessTokenVerifier(options as never), TypeError)
    })
  }

  test('when given a keyResolver then it is used instead of a URL', async () => {
    const publicKey = KeyObject.from(key.publicKey)
    const verify = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keyResolver: async ({ kid, alg }) =>
        kid === key.kid && alg === 'ES256' ? publicKey : undefined,
    })
    assert.equal((await verify(await signAccessToken(key))).sub, 'user-alice')
    assert.equal(verify.audience, AUDIENCE)
  })

  test('when the keyResolver has no key then invalid_token, and when it fails then 503', async () => {
    const none = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keyResolver: () => undefined,
    })
    await rejects(none(await signAccessToken(key)), {
      ...invalidToken,
      causeCode: 'ERR_JWKS_NO_MATCHING_KEY',
    })
    const failing = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keyResolver: async () => {
        throw new Error('key store down')
      },
    })
    await rejects(failing(await signAccessToken(key)), {
      error: 'temporarily_unavailable',
      statusCode: 503,
    })
  })

  test('when the keyResolver gives a key of the wrong type then invalid_token', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey
    const verify = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keyResolver: () => rsa,
    })
    await rejects(verify(await signAccessToken(key)), invalidToken)
  })

  test('when given a clock then exp is judged against it', async () => {
    const token = await signAccessToken(key)
    const later = () => Date.now() / 1000 + 3600
    await rejects(verifier({ now: later })(token), {
      ...invalidToken,
      causeCode: 'ERR_JWT_EXPIRED',
    })
  })
})

describe('verified-token cache', () => {
  function counting(publicKey: KeyObject) {
    let lookups = 0
    return {
      lookups: () => lookups,
      keyResolver: async ({ kid }: { kid?: string }) => {
        lookups++
        return kid === key.kid ? publicKey : undefined
      },
    }
  }

  test('when the same token is verified again then no second signature check', async () => {
    const source = counting(KeyObject.from(key.publicKey))
    const verify = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keyResolver: source.keyResolver,
    })
    const token = await signAccessToken(key)
    const first = await verify(token)
    assert.equal(await verify(token), first)
    assert.equal(source.lookups(), 1)
  })

  test('when the token has expired since it was cached then it is refused', async () => {
    let clock = Date.now() / 1000
    const source = counting(KeyObject.from(key.publicKey))
    const verify = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keyResolver: source.keyResolver,
      now: () => clock,
      clockToleranceSeconds: 0,
    })
    const token = await signAccessToken(key, {
      claims: { exp: Math.floor(clock) + 20 },
    })
    await verify(token)
    clock += 21
    await rejects(verify(token), { error: 'invalid_token', statusCode: 401 })
  })

  test('when maxAgeSeconds has passed then the token is verified again', async () => {
    let clock = Date.now() / 1000
    const source = counting(KeyObject.from(key.publicKey))
    const verify = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keyResolver: source.keyResolver,
      now: () => clock,
      verifiedTokenCache: { maxAgeSeconds: 10 },
    })
    const token = await signAccessToken(key)
    await verify(token)
    clock += 11
    await verify(token)
    assert.equal(source.lookups(), 2)
  })

  test('when the cache is off or full then it still verifies correctly', async () => {
    const source = counting(KeyObject.from(key.publicKey))
    const off = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keyResolver: source.keyResolver,
      verifiedTokenCache: false,
    })
    const token = await signAccessToken(key)
    await off(token)
    await off(token)
    assert.equal(source.lookups(), 2)
    const small = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keyResolver: source.keyResolver,
      verifiedTokenCache: { maxEntries: 1 },
    })
    const other = await signAccessToken(key)
    for (const each of [token, other, token, other])
      assert.equal((await small(each)).sub, 'user-alice')
    assert.throws(
      () =>
        createAccessTokenVerifier({
          issuer: ISSUER,
          audience: AUDIENCE,
          keyResolver: source.keyResolver,
          verifiedTokenCache: { maxEntries: 0 },
        }),
      TypeError,
    )
  })

  test('a failed verification is never cached: a refused token stays refused, a fixed one passes', async () => {
    const verify = verifier()
    const wrongAudience = await signAccessToken(key, { claims: { aud: 'app-z' } })
    await rejects(verify(wrongAudience), invalidToken)
    await rejects(verify(wrongAudience), invalidToken)
  })
})
