import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { buildAppB } from '../../../src/apps/app-b/app.js'
import { openTodoStore, type TodoStore } from '../../../src/apps/app-b/todo_store.js'
import { loadEnv } from '../../../src/config/env.js'
import { redactPaths } from '../../../src/log/logger.js'
import {
  createTestKey,
  signAccessToken,
  startJwksServer,
  type JwksServer,
  type SignOptions,
  type TestKey,
} from '../../resource/helpers.js'

let key: TestKey
let idp: JwksServer
let issuer: string
let dataDir: string
let store: TodoStore
let app: FastifyInstance
const logLines: string[] = []

before(async () => {
  key = await createTestKey()
  // Stands in for the IdP: serves `${issuer}/jwks`, so App B's default verifier wiring is used.
  idp = await startJwksServer([key])
  issuer = idp.url.replace(/\/jwks$/, '')
  dataDir = mkdtempSync(join(tmpdir(), 'app-b-api-'))
  // The stand-in has no introspection endpoint: App B checks signatures only (APP_B_INTROSPECTION).
  const env = loadEnv({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    IDP_ISSUER: issuer,
    APP_B_INTROSPECTION: 'off',
  })
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk))
      done()
    },
  })
  const logger = pino(
    { level: 'info', redact: { paths: redactPaths, censor: '[redacted]' } },
    stream,
  )
  store = openTodoStore(join(dataDir, 'app-b.sqlite'))
  const a1 = await store.add('user-alice', 'alice: file taxes')
  await store.add('user-alice', 'alice: call mum')
  await store.toggle('user-alice', a1.id)
  await store.add('user-bob', 'bob: secret plan')
  app = await buildAppB({ env, logger, store })
})

after(async () => {
  await app.close()
  await store.close()
  await idp.close()
  rmSync(dataDir, { recursive: true, force: true })
})

function tokenFor(sub: string, options: SignOptions = {}) {
  return signAccessToken(key, { ...options, claims: { iss: issuer, sub, ...options.claims } })
}

function get(url: string, token?: string, headers: Record<string, string> = {}) {
  return app.inject({
    url,
    headers: token === undefined ? headers : { ...headers, authorization: `Bearer ${token}` },
  })
}

describe('App B service API', () => {
  test('GET /healthz answers ok', async () => {
    const res = await get('/healthz')
    assert.deepEqual(res.json(), { ok: true })
  })

  test('when App A calls for alice then it gets alice’s count, decided by the token', async () => {
    const res = await get('/api/todos/count', await tokenFor('user-alice'))
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), {
      count: 2,
      open: 1,
      // alice wrote both herself: nothing was written on her behalf.
      actorWrites: [],
      user: 'user-alice',
      caller: 'app-a',
      decidedBy: 'token',
    })
    assert.equal(res.headers['cache-control'], 'no-store')
    assert.equal(res.headers['set-cookie'], undefined)
  })

  test('writeWhenTokenLacksTodosWriteThenInsufficientScopeAndNothingStored', async () => {
    const before = (await store.list('user-dana')).length
    const res = await app.inject({
      method: 'POST',
      url: '/api/todos',
      headers: { authorization: `Bearer ${await tokenFor('user-dana')}` },
      payload: { title: 'not allowed' },
    })
    assert.equal(res.statusCode, 403)
    assert.match(String(res.headers['www-authenticate']), /insufficient_scope/)
    assert.equal((await store.list('user-dana')).length, before)
  })

  test('writeWhenDelegatedTokenHasTodosWriteThenTodoRecordsActSubAsItsAuthor', async () => {
    const token = await tokenFor('user-dana', {
      claims: {
        scope: 'todos:read todos:write',
        act: { sub: 'app-d' },
        azp: 'app-d',
        client_id: 'app-d',
      },
    })
    const added = await app.inject({
      method: 'POST',
      url: '/api/todos',
      headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'dana-dentist-0001' },
      payload: { title: 'book the dentist' },
    })
    assert.equal(added.statusCode, 201, added.body)
    assert.equal(added.json().todo.addedBy, 'app-d')
    const done = await app.inject({
      method: 'POST',
      url: `/api/todos/${added.json().todo.id}/complete`,
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(done.json().todo.completedBy, 'app-d')
    // Another user's id: no such todo for this user, nothing changed.
    const foreign = await app.inject({
      method: 'POST',
      url: `/api/todos/${(await store.list('user-bob'))[0]!.id}/complete`,
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(foreign.statusCode, 404)
    assert.equal((await store.list('user-bob'))[0]!.completed, false)
    const count = await get('/api/todos/count', token)
    assert.equal(count.json().actorWrites[0].addedByName, 'Assistant')
  })

  test('when App A lists for alice then only alice’s todos come back', async () => {
    const res = await get('/api/todos', await tokenFor('user-alice'))
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.equal(body.user, 'user-alice')
    assert.equal(body.caller, 'app-a')
    assert.equal(body.decidedBy, 'token')
    assert.deepEqual(
      body.todos.map((t: { title: string; completed: boolean }) => [t.title, t.completed]),
      [
        ['alice: file taxes', true],
        ['alice: call mum', false],
      ],
    )
    assert.doesNotMatch(res.body, /bob/)
  })

  test('when the token is for bob then alice’s data never shows', async () => {
    const list = await get('/api/todos', await tokenFor('user-bob'))
    assert.deepEqual(
      list.json().todos.map((t: { title: string }) => t.title),
      ['bob: secret plan'],
    )
    assert.doesNotMatch(list.body, /alice/)
    const count = await get('/api/todos/count', await tokenFor('user-bob'))
    assert.deepEqual([count.json().count, count.json().user], [1, 'user-bob'])
  })

  test('when the user has no todos then the answer is empty, not someone else’s', async () => {
    const res = await get('/api/todos/count', await tokenFor('user-carol'))
    assert.deepEqual([res.json().count, res.json().open, res.json().user], [0, 0, 'user-carol'])
  })

  test('when no token is sent then 401 with bare Bearer and DPoP challenges naming the metadata (RFC 9449, RFC 9728)', async () => {
    const res = await get('/api/todos')
    assert.equal(res.statusCode, 401)
    assert.equal(
      res.headers['www-authenticate'],
      `Bearer realm="app-b", resource_metadata="http://localhost:3994/.well-known/oauth-protected-resource", ` +
        `DPoP realm="app-b", resource_metadata="http://localhost:3994/.well-known/oauth-protected-resource", algs="ES256 ES384 EdDSA PS256"`,
    )
    assert.equal(res.headers['set-cookie'], undefined)
  })

  test('when only a session cookie is sent then 401: the API is bearer only', async () => {
    const res = await get('/api/todos', undefined, { cookie: 'onbehalf_app_b_sid=anything' })
    assert.equal(res.statusCode, 401)
  })

  test('when App A presents the user’s own login token (aud app-a, no act) then 401', async () => {
    const token = await tokenFor('user-alice', { claims: { aud: 'app-a' }, omit: ['act'] })
    const res = await get('/api/todos', token)
    assert.equal(res.statusCode, 401)
    assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/)
  })

  test('when the acting service is not allowed then 403', async () => {
    const token = await tokenFor('user-alice', { claims: { act: { sub: 'app-c' } } })
    const res = await get('/api/todos', token)
    assert.equal(res.statusCode, 403)
    assert.equal(res.json().error, 'insufficient_scope')
  })

  test('when the requesting client is not allowed though the actor is then 403', async () => {
    const token = await tokenFor('user-alice', { claims: { client_id: 'app-c', azp: 'app-c' } })
    const res = await get('/api/todos/count', token)
    assert.equal(res.statusCode, 403)
  })

  test('when todos:read is missing then 403 insufficient_scope naming it', async () => {
    const token = await tokenFor('user-alice', { claims: { scope: 'openid' } })
    const res = await get('/api/todos/count', token)
    assert.equal(res.statusCode, 403)
    assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope"/)
    assert.match(String(res.headers['www-authenticate']), /scope="todos:read"/)
  })

  test('then every call leaves one audit line with caller, sub, jti and outcome, never the token', async () => {
    logLines.length = 0
    const good = await tokenFor('user-alice')
    const bad = await tokenFor('user-alice', { claims: { act: { sub: 'app-c' } } })
    await get('/api/todos/count', good)
    await get('/api/todos/count', bad)
    await get(`/api/todos?access_token=${good}`)
    const audits = logLines
      .map((line) => JSON.parse(line) as { audit?: Record<string, unknown> })
      .filter((entry) => entry.audit?.event === 'app-b.service_api')
      .map((entry) => entry.audit!)
    assert.equal(audits.length, 3)
    const [allowed, denied, queryToken] = audits
    assert.equal(allowed?.outcome, 'allowed')
    assert.equal(allowed?.caller, 'app-a')
    assert.equal(allowed?.sub, 'user-alice')
    assert.equal(typeof allowed?.jti, 'string')
    assert.deepEqual(allowed?.actorChain, ['app-a'])
    assert.equal(denied?.outcome, 'denied')
    assert.equal(denied?.error, 'insufficient_scope')
    assert.match(String(denied?.detail), /caller app-c/)
    assert.equal(queryToken?.outcome, 'denied')
    assert.equal(queryToken?.error, 'invalid_request')
    const logs = logLines.join('')
    for (const token of [good, bad]) {
      assert.ok(!logs.includes(token.split('.')[1]!), 'no token payload in any log line')
      assert.ok(!logs.includes(token.split('.')[2]!), 'no token signature in any log line')
    }
  })
})

describe('App B web UI without a session', () => {
  test('GET / shows the landing page with a sign-in link', async () => {
    const res = await app.inject({ url: '/' })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /text\/html/)
    assert.match(res.body, /href="\/auth\/login"/)
    assert.doesNotMatch(res.body, /data-testid="todo-list"/)
  })

  test('POST /todos without a session is refused and stores nothing', async () => {
    const before = (await store.count('user-alice')).total
    const res = await app.inject({
      method: 'POST',
      url: '/todos',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'title=sneaky',
    })
    assert.ok(res.statusCode === 403 || res.statusCode === 401, `status ${res.statusCode}`)
    assert.equal((await store.count('user-alice')).total, before)
  })
})
