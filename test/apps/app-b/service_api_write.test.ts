/**
 * `POST /api/todos`: App B's service API adds a todo for the user named in the token's `sub`, with
 * `todos:write` and an `Idempotency-Key` header, at most once per key — so a client that lost the
 * answer (an instance killed mid-request) may send it again without doubling the todo.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import type { FastifyInstance } from 'fastify'
import { buildAppB } from '../../../src/apps/app-b/app.js'
import { openTodoStore, type TodoStore } from '../../../src/apps/app-b/todo_store.js'
import { loadEnv } from '../../../src/config/env.js'
import { createLogger } from '../../../src/log/logger.js'
import {
  createTestKey,
  signAccessToken,
  startJwksServer,
  type JwksServer,
  type TestKey,
} from '../../resource/helpers.js'

let key: TestKey
let idp: JwksServer
let issuer: string
let dataDir: string
let store: TodoStore
let app: FastifyInstance

before(async () => {
  key = await createTestKey()
  idp = await startJwksServer([key])
  issuer = idp.url.replace(/\/jwks$/, '')
  dataDir = mkdtempSync(join(tmpdir(), 'app-b-write-'))
  const env = loadEnv({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    IDP_ISSUER: issuer,
    // The stand-in IdP serves keys only, no introspection endpoint.
    APP_B_INTROSPECTION: 'off',
  })
  store = openTodoStore(join(dataDir, 'app-b.sqlite'))
  app = await buildAppB({ env, logger: createLogger({ level: 'silent' }), store })
})

after(async () => {
  await app.close()
  await store.close()
  await idp.close()
  rmSync(dataDir, { recursive: true, force: true })
})

function tokenFor(sub: string, scope = 'todos:read todos:write') {
  return signAccessToken(key, { claims: { iss: issuer, sub, scope } })
}

async function post(token: string, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/api/todos',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
  })
}

const titles = async (sub: string) => (await store.list(sub)).map((todo) => todo.title)

describe('App B service API writes', () => {
  test('when the token has todos:write and an Idempotency-Key then 201 and the todo is stored for the token’s sub', async () => {
    const res = await post(
      await tokenFor('user-carol'),
      { title: 'carol: water plants' },
      {
        'idempotency-key': 'carol-key-0001',
      },
    )
    assert.equal(res.statusCode, 201, res.body)
    const body = res.json()
    assert.equal(body.replayed, false)
    assert.equal(body.todo.title, 'carol: water plants')
    assert.deepEqual([body.user, body.caller, body.decidedBy], ['user-carol', 'app-a', 'token'])
    assert.deepEqual(await titles('user-carol'), ['carol: water plants'])
  })

  test('when the same write is sent again with its key then 200 replayed with the same todo, nothing added', async () => {
    const token = await tokenFor('user-dave')
    const first = await post(
      token,
      { title: 'dave: buy milk' },
      { 'idempotency-key': 'dave-key-0001' },
    )
    const again = await post(
      token,
      { title: 'dave: buy milk' },
      { 'idempotency-key': 'dave-key-0001' },
    )
    assert.equal(first.statusCode, 201)
    assert.equal(again.statusCode, 200)
    assert.equal(again.json().replayed, true)
    assert.equal(again.json().todo.id, first.json().todo.id)
    assert.deepEqual(await titles('user-dave'), ['dave: buy milk'], 'one todo, not two')
  })

  test('when a key is reused for another title then 422 idempotency_key_reused and nothing is added', async () => {
    const token = await tokenFor('user-erin')
    await post(token, { title: 'erin: first' }, { 'idempotency-key': 'erin-key-0001' })
    const res = await post(token, { title: 'erin: other' }, { 'idempotency-key': 'erin-key-0001' })
    assert.equal(res.statusCode, 422)
    assert.equal(res.json().error, 'idempotency_key_reused')
    assert.deepEqual(await titles('user-erin'), ['erin: first'])
  })

  test('when the Idempotency-Key header is missing then 400 invalid_request and nothing is added', async () => {
    const res = await post(await tokenFor('user-frank'), { title: 'frank: no key' })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().error, 'invalid_request')
    assert.match(res.json().error_description, /Idempotency-Key/)
    assert.deepEqual(await titles('user-frank'), [])
  })

  test('when the key or the title is malformed then 400 invalid_request and nothing is added', async () => {
    const token = await tokenFor('user-gina')
    const badKey = await post(token, { title: 'gina: ok' }, { 'idempotency-key': 'short' })
    const badTitle = await post(token, { title: '' }, { 'idempotency-key': 'gina-key-0001' })
    assert.deepEqual([badKey.statusCode, badTitle.statusCode], [400, 400])
    assert.equal(badKey.json().error, 'invalid_request')
    assert.equal(badTitle.json().error, 'invalid_request')
    assert.deepEqual(await titles('user-gina'), [])
  })

  test('when the token lacks todos:write then 403 insufficient_scope naming it and nothing is added', async () => {
    const res = await post(
      await tokenFor('user-hank', 'todos:read'),
      { title: 'hank: sneaky' },
      {
        'idempotency-key': 'hank-key-0001',
      },
    )
    assert.equal(res.statusCode, 403)
    assert.equal(res.json().error, 'insufficient_scope')
    assert.match(String(res.headers['www-authenticate']), /scope="todos:write"/)
    assert.deepEqual(await titles('user-hank'), [])
  })

  test('when no token is sent then 401 and nothing is added', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/todos',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'nobody-key-01' },
      payload: JSON.stringify({ title: 'anonymous' }),
    })
    assert.equal(res.statusCode, 401)
    const db = new Database(join(dataDir, 'app-b.sqlite'), { readonly: true })
    const row = db.prepare("SELECT count(*) AS n FROM todos WHERE title = 'anonymous'").get()
    db.close()
    assert.deepEqual(row, { n: 0 })
  })
})
