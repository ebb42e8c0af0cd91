import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  createTokenExchangeClient,
  ExchangedTokenCache,
  TokenExchangeError,
} from '../../src/client/index.js'
import type { CachedToken } from '../../src/client/index.js'
import { startFakeOp, type FakeOp } from '../web/helpers/fake_op.js'

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'

function token(expiresAt: number, name = 'a'): CachedToken {
  return {
    accessToken: name,
    issuedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
    tokenType: 'Bearer',
    expiresAt,
    scope: undefined,
    claims: undefined,
  }
}

async function subject(op: FakeOp, sub: string, now: number) {
  return op.signAccessToken({ sub, aud: 'app-a', exp: Math.floor(now) + 3600, jti: sub })
}

test('cache key hashes the subject token and separates audience and scope', () => {
  const key = ExchangedTokenCache.key('secret-subject-token', 'app-b', 'b a')
  assert.ok(!key.includes('secret-subject-token'))
  assert.equal(
    key,
    ExchangedTokenCache.key('secret-subject-token', 'app-b', 'a b'),
    'scope order does not matter',
  )
  assert.notEqual(key, ExchangedTokenCache.key('secret-subject-token', 'app-c', 'a b'))
  assert.notEqual(key, ExchangedTokenCache.key('secret-subject-token', 'app-b', 'a'))
  assert.notEqual(key, ExchangedTokenCache.key('other-subject-token', 'app-b', 'a b'))
})

test('cache entries live until expiresAt - 30 s, or half the lifetime for short tokens', () => {
  let now = 0
  const cache = new ExchangedTokenCache({ now: () => now })
  cache.set('long', token(300))
  cache.set('short', token(40))
  now = 269.999
  assert.ok(cache.get('long'))
  now = 270
  assert.equal(cache.get('long'), undefined)
  now = 19.999
  assert.ok(cache.get('short'))
  now = 20
  assert.equal(cache.get('short'), undefined)
  cache.set('expired', token(now))
  assert.equal(cache.size, 0, 'already expired tokens are not stored')
})

test('cache is a bounded LRU', () => {
  const cache = new ExchangedTokenCache({ maxEntries: 2, now: () => 0 })
  cache.set('a', token(600))
  cache.set('b', token(600))
  assert.ok(cache.get('a')) // a is now the most recently used
  cache.set('c', token(600))
  assert.equal(cache.size, 2)
  assert.equal(cache.get('b'), undefined)
  assert.ok(cache.get('a'))
  assert.ok(cache.get('c'))
})

test('exchange with a cache: hit, miss on another key, and expiry with an injected clock', async (t) => {
  let now = 1_800_000_000
  const clock = () => now
  const op = await startFakeOp({ now: clock })
  t.after(() => op.close())
  const cache = new ExchangedTokenCache({ now: clock })
  const client = createTokenExchangeClient({
    tokenEndpoint: `${op.url}/token`,
    clientId: op.clientId,
    clientSecret: op.clientSecret,
    cache,
    now: clock,
  })
  const alice = await subject(op, 'alice', now)
  const bob = await subject(op, 'bob', now)
  const count = () => op.requests.filter((r) => r.grantType === GRANT).length

  const first = await client.exchange({
    subjectToken: alice,
    audience: 'app-b',
    scope: 'todos:read',
  })
  assert.equal(first.fromCache, false)
  const second = await client.exchange({
    subjectToken: alice,
    audience: 'app-b',
    scope: 'todos:read',
  })
  assert.equal(second.fromCache, true)
  assert.equal(second.accessToken, first.accessToken)
  assert.equal(count(), 1)

  assert.equal(
    (await client.exchange({ subjectToken: bob, audience: 'app-b', scope: 'todos:read' }))
      .fromCache,
    false,
  )
  assert.equal((await client.exchange({ subjectToken: alice, audience: 'app-b' })).fromCache, false)
  assert.equal(count(), 3)

  now += 300 - 30 // token lives 300 s: refresh 30 s before expiry
  const renewed = await client.exchange({
    subjectToken: alice,
    audience: 'app-b',
    scope: 'todos:read',
  })
  assert.equal(renewed.fromCache, false)
  assert.notEqual(renewed.accessToken, first.accessToken)
  assert.equal(count(), 4)
})

test('exchange with a cache: concurrent misses share one exchange, failures are not cached', async (t) => {
  const op = await startFakeOp()
  t.after(() => op.close())
  const client = createTokenExchangeClient({
    tokenEndpoint: `${op.url}/token`,
    clientId: op.clientId,
    clientSecret: op.clientSecret,
    cache: new ExchangedTokenCache(),
  })
  const alice = await subject(op, 'alice', Date.now() / 1000)
  const count = () => op.requests.filter((r) => r.grantType === GRANT).length

  op.exchangeBehaviour = { kind: 'error', status: 400, error: 'invalid_request', description: 'no' }
  const failures = await Promise.allSettled(
    Array.from({ length: 3 }, () => client.exchange({ subjectToken: alice, audience: 'app-b' })),
  )
  assert.ok(
    failures.every((f) => f.status === 'rejected' && f.reason instanceof TokenExchangeError),
  )
  assert.equal(count(), 1, 'concurrent failing misses share one request too')

  op.exchangeBehaviour = { kind: 'ok' }
  const results = await Promise.all(
    Array.from({ length: 5 }, () => client.exchange({ subjectToken: alice, audience: 'app-b' })),
  )
  assert.equal(count(), 2, 'one exchange for five concurrent callers, the failure was not cached')
  assert.equal(new Set(results.map((r) => r.accessToken)).size, 1)
})
