import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { test } from 'node:test'
import { JwsVerificationError } from '../../src/exchange/index.js'
import { createRemoteKeySet } from '../../src/keys/remote_jwks.js'
import { manualClock } from './helpers.js'

const ISSUER = 'https://idp.example/realm/'

function jwk(kid: string) {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }
}

/** An upstream behind an injected fetch: counts requests, can go down, can rotate. */
function fakeUpstream() {
  const state = { keys: [jwk('k1')], down: false, discovery: 0, jwks: 0, issuer: ISSUER }
  const fetch = (async (input: string | URL | Request) => {
    const url = String(input)
    if (state.down) throw new TypeError('fetch failed')
    if (url === 'https://idp.example/realm/.well-known/openid-configuration') {
      state.discovery++
      return Response.json({ issuer: state.issuer, jwks_uri: 'https://idp.example/realm/jwks' })
    }
    if (url === 'https://idp.example/realm/jwks') {
      state.jwks++
      return Response.json({ keys: state.keys })
    }
    return new Response('not found', { status: 404 })
  }) as typeof globalThis.fetch
  return { state, fetch }
}

const cache = { maxAgeSeconds: 60, cooldownSeconds: 10, staleIfErrorSeconds: 120 }

test('upstream keys: discovery names jwks_uri, the key is found by kid and alg', async () => {
  const { state, fetch } = fakeUpstream()
  const keys = createRemoteKeySet({
    issuer: ISSUER,
    algorithms: ['ES256'],
    fetch,
    cache,
    now: manualClock().now,
  })
  assert.ok(await keys.getKey('k1', 'ES256'))
  assert.equal(
    await keys.getKey('k1', 'RS256'),
    undefined,
    'an algorithm not allowed for the issuer',
  )
  assert.equal(state.discovery, 1)
  assert.equal(state.jwks, 1)
})

test('upstream keys: an unknown kid refetches at once (rotation), and is refused only on that fetch', async () => {
  const { state, fetch } = fakeUpstream()
  const clock = manualClock()
  const keys = createRemoteKeySet({
    issuer: ISSUER,
    algorithms: ['ES256'],
    fetch,
    cache,
    now: clock.now,
  })
  await keys.getKey('k1', 'ES256')
  clock.advance(11)
  state.keys = [...state.keys, jwk('k2')]
  assert.ok(await keys.getKey('k2', 'ES256'), 'rotation picked up by the unknown kid')
  assert.equal(state.jwks, 2)
  clock.advance(11)
  assert.equal(await keys.getKey('random-x', 'ES256'), undefined, 'absent from a newer fetch')
  assert.equal(state.jwks, 3)
})

test('upstream keys: unknown kids fetch at most once per cooldown, each judged on a fetch newer than itself', async () => {
  const { state, fetch } = fakeUpstream()
  // Real time: a token inside the interval waits for the next fetch.
  const keys = createRemoteKeySet({
    issuer: ISSUER,
    algorithms: ['ES256'],
    fetch,
    cache: { ...cache, cooldownSeconds: 0.2 },
  })
  await keys.getKey('k1', 'ES256')
  const started = performance.now()
  const burst = await Promise.all(
    Array.from({ length: 20 }, (_, i) => keys.getKey(`random-${i}`, 'ES256')),
  )
  assert.ok(burst.every((key) => key === undefined))
  assert.equal(state.jwks, 2, '20 concurrent unknown kids share one fetch')
  // A steady stream of made-up kids for ~0.6 s: fetches stay bounded by the interval.
  let i = 0
  while (performance.now() - started < 600)
    assert.equal(await keys.getKey(`r${i++}`, 'ES256'), undefined)
  const fetches = state.jwks - 2
  const bound = Math.ceil((performance.now() - started) / 200) + 1
  assert.ok(fetches <= bound, `${fetches} fetches for ${i} unknown kids in 0.6 s (bound ${bound})`)
  // And a rotation right after all that is picked up by the next fetch, not refused.
  state.keys = [...state.keys, jwk('k2')]
  assert.ok(await keys.getKey('k2', 'ES256'), 'a valid new kid is never refused for the flood')
})

test('upstream keys: a made-up kid while the upstream is down locks nobody out (issue 12, item 2)', async () => {
  const { state, fetch } = fakeUpstream()
  const keys = createRemoteKeySet({
    issuer: ISSUER,
    algorithms: ['ES256'],
    fetch,
    cache: { ...cache, cooldownSeconds: 0.2 },
  })
  await keys.getKey('k1', 'ES256')
  state.keys = [...state.keys, jwk('k2')] // the upstream rotates…
  state.down = true // …and is briefly unreachable
  await assert.rejects(keys.getKey('forged', 'ES256'), { reason: 'key_unavailable' })
  await assert.rejects(keys.getKey('k2', 'ES256'), { reason: 'key_unavailable' }, 'not unknown')
  assert.ok(await keys.getKey('k1', 'ES256'), 'cached keys keep serving meanwhile')
  state.down = false
  assert.ok(await keys.getKey('k2', 'ES256'), 'accepted as soon as the upstream answers')
})

test('upstream keys: a failed fetch is retried with backoff, within one shared fetch', async () => {
  const { state, fetch } = fakeUpstream()
  let failures = 2
  let requests = 0
  const flaky = (async (input: string | URL | Request) => {
    requests++
    if (failures > 0) {
      failures--
      return new Response('busy', { status: 503 })
    }
    return fetch(input)
  }) as typeof globalThis.fetch
  const keys = createRemoteKeySet({
    issuer: ISSUER,
    jwksUri: 'https://idp.example/realm/jwks',
    algorithms: ['ES256'],
    fetch: flaky,
    cache,
  })
  const found = await Promise.all(Array.from({ length: 5 }, () => keys.getKey('k1', 'ES256')))
  assert.ok(found.every(Boolean), 'two 503s, then the key')
  assert.equal(requests, 3, 'one fetch of three attempts, shared by five lookups')
  assert.equal(state.jwks, 1)
})

test('upstream keys: a 404 is not retried', async () => {
  let requests = 0
  const keys = createRemoteKeySet({
    issuer: ISSUER,
    jwksUri: 'https://idp.example/realm/jwks',
    algorithms: ['ES256'],
    fetch: (async () => {
      requests++
      return new Response('no', { status: 404 })
    }) as typeof globalThis.fetch,
    cache,
  })
  await assert.rejects(keys.getKey('k1', 'ES256'), { reason: 'key_unavailable' })
  assert.equal(requests, 1)
})

test('upstream keys: concurrent unknown kids share one fetch', async () => {
  const { state, fetch } = fakeUpstream()
  const clock = manualClock()
  const keys = createRemoteKeySet({
    issuer: ISSUER,
    algorithms: ['ES256'],
    fetch,
    cache,
    now: clock.now,
  })
  await keys.getKey('k1', 'ES256')
  clock.advance(11)
  state.keys = [jwk('k2')]
  const found = await Promise.all(Array.from({ length: 10 }, () => keys.getKey('k2', 'ES256')))
  assert.ok(found.every(Boolean))
  assert.equal(state.jwks, 2)
})

test('upstream keys: upstream down → cached keys serve within the window, then key_unavailable', async () => {
  const { state, fetch } = fakeUpstream()
  const clock = manualClock()
  const keys = createRemoteKeySet({
    issuer: ISSUER,
    algorithms: ['ES256'],
    fetch,
    cache,
    now: clock.now,
  })
  await keys.getKey('k1', 'ES256')
  state.down = true
  clock.advance(60 + 119)
  assert.ok(await keys.getKey('k1', 'ES256'), 'stale but within maxAge + staleIfError')
  clock.advance(2)
  await assert.rejects(
    keys.getKey('k1', 'ES256'),
    (err: unknown) =>
      err instanceof JwsVerificationError &&
      err.reason === 'key_unavailable' &&
      err.message === 'upstream keys unavailable',
  )
  assert.equal(keys.status().usable, false)
  state.down = false
  assert.ok(await keys.getKey('k1', 'ES256'), 'back as soon as the upstream answers')
})

test('upstream keys: a discovery document naming another issuer yields no keys', async () => {
  const { state, fetch } = fakeUpstream()
  state.issuer = 'https://evil.example/'
  const keys = createRemoteKeySet({
    issuer: ISSUER,
    algorithms: ['ES256'],
    fetch,
    cache,
    now: manualClock().now,
  })
  await assert.rejects(keys.getKey('k1', 'ES256'), { reason: 'key_unavailable' })
  assert.equal(state.jwks, 0)
})

test('upstream keys: private and symmetric JWKs are never used', async () => {
  const { state, fetch } = fakeUpstream()
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  state.keys = [
    { ...privateKey.export({ format: 'jwk' }), kid: 'priv', alg: 'ES256', use: 'sig' } as never,
    { kty: 'oct', k: 'c2VjcmV0', kid: 'oct', alg: 'HS256' } as never,
  ]
  const keys = createRemoteKeySet({
    issuer: ISSUER,
    algorithms: ['ES256'],
    fetch,
    cache,
    now: manualClock().now,
  })
  assert.equal(await keys.getKey('priv', 'ES256'), undefined)
  assert.equal(keys.status().keys, 0)
})

test('upstream keys: an https issuer with an http jwks_uri is a configuration error', () => {
  assert.throws(
    () =>
      createRemoteKeySet({
        issuer: ISSUER,
        jwksUri: 'http://idp.example/jwks',
        algorithms: ['ES256'],
      }),
    /jwks_uri of an https issuer must be https/,
  )
})
