/**
 * App C's activity API with real ES256 tokens verified against a real JWKS over HTTP: the chain
 * App A → App B → App C is accepted on its outermost actor (app-b) and recorded with the nested
 * actors; callers other than app-b, tokens for other audiences and missing scopes are refused.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { loadEnv } from '../../../src/config/env.js'
import { createLogger } from '../../../src/log/logger.js'
import { createAccessTokenVerifier } from '../../../src/resource/index.js'
import { buildAppC } from '../../../src/apps/app-c/app.js'
import { openActivityStore } from '../../../src/apps/app-c/activity_store.js'
import {
  ISSUER,
  createTestKey,
  signAccessToken,
  startJwksServer,
  type JwksServer,
  type TestKey,
} from '../../resource/helpers.js'

const CHAIN_CLAIMS = {
  aud: 'app-c',
  client_id: 'app-b',
  azp: 'app-b',
  act: { sub: 'app-b', iss: ISSUER, act: { sub: 'app-a', iss: ISSUER } },
}

describe('App C activity API', () => {
  let key: TestKey
  let jwks: JwksServer
  let app: FastifyInstance
  let dataDir: string

  before(async () => {
    key = await createTestKey()
    jwks = await startJwksServer([key])
    dataDir = mkdtempSync(join(tmpdir(), 'onbehalf-app-c-'))
    const env = loadEnv({ NODE_ENV: 'test', DATA_DIR: dataDir, IDP_ISSUER: ISSUER })
    const verifier = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: 'app-c',
      jwksUri: jwks.url,
      allowedCallers: env.APP_C_ALLOWED_CALLERS,
    })
    app = await buildAppC({ env, logger: createLogger({ level: 'silent' }), verifier })
  })
  after(async () => {
    await app?.close()
    await jwks?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const call = async (method: 'GET' | 'POST', claims: Record<string, unknown>, payload?: object) =>
    app.inject({
      method,
      url: '/api/activity',
      headers: { authorization: `Bearer ${await signAccessToken(key, { claims })}` },
      ...(payload ? { payload } : {}),
    })

  it("records an entry for the token's user with the whole actor chain, decided on the outermost actor", async () => {
    const response = await call(
      'POST',
      { ...CHAIN_CLAIMS, sub: 'user-alice', scope: 'activity:write' },
      { action: 'todo.added', detail: 'Buy milk' },
    )
    assert.equal(response.statusCode, 201, response.body)
    const body = response.json()
    assert.equal(body.user, 'user-alice')
    assert.equal(body.caller, 'app-b')
    assert.deepEqual(body.actorChain, ['app-b', 'app-a'])
    assert.deepEqual(body.entry.actorChain, ['app-b', 'app-a'])
    assert.deepEqual(body.seen.act, CHAIN_CLAIMS.act)
    assert.equal(response.headers['cache-control'], 'no-store')
  })

  it("lists only the token user's entries", async () => {
    await call(
      'POST',
      { ...CHAIN_CLAIMS, sub: 'user-bob', scope: 'activity:write' },
      { action: 'todo.added', detail: 'bob only' },
    )
    const response = await call('GET', {
      ...CHAIN_CLAIMS,
      sub: 'user-alice',
      scope: 'activity:read',
    })
    assert.equal(response.statusCode, 200, response.body)
    const entries = response.json().entries as Array<{ detail: string }>
    assert.ok(entries.length >= 1)
    assert.ok(entries.every((entry) => entry.detail !== 'bob only'))
  })

  it('refuses a caller whose outermost actor is not app-b (App A calling directly) with 403', async () => {
    const response = await call('GET', {
      aud: 'app-c',
      client_id: 'app-a',
      azp: 'app-a',
      act: { sub: 'app-a', iss: ISSUER },
      sub: 'user-alice',
      scope: 'activity:read',
    })
    assert.equal(response.statusCode, 403)
    assert.match(String(response.headers['www-authenticate']), /^Bearer /)
  })

  it('refuses a token for another audience with 401 invalid_token', async () => {
    const response = await call('GET', {
      ...CHAIN_CLAIMS,
      aud: 'app-b',
      sub: 'user-alice',
      scope: 'activity:read',
    })
    assert.equal(response.statusCode, 401)
    assert.equal(response.json().error, 'invalid_token')
  })

  it('refuses a write without activity:write with 403 insufficient_scope', async () => {
    const response = await call(
      'POST',
      { ...CHAIN_CLAIMS, sub: 'user-alice', scope: 'activity:read' },
      { action: 'todo.added' },
    )
    assert.equal(response.statusCode, 403)
    assert.equal(response.json().error, 'insufficient_scope')
  })

  it('refuses a malformed entry with 400', async () => {
    const response = await call(
      'POST',
      { ...CHAIN_CLAIMS, sub: 'user-alice', scope: 'activity:write' },
      { action: 'DROP TABLE', detail: 'x' },
    )
    assert.equal(response.statusCode, 400)
    assert.equal(response.json().error, 'invalid_request')
  })

  it('keeps the log across a restart of the store', async () => {
    const path = join(dataDir, 'restart.sqlite')
    const first = openActivityStore(path)
    await first.record('user-x', {
      action: 'todo.added',
      detail: 'persisted',
      recordedBy: 'app-b',
      actorChain: ['app-b'],
    })
    await first.close()
    const second = openActivityStore(path)
    assert.equal((await second.recent('user-x'))[0]?.detail, 'persisted')
    await second.close()
  })
})
