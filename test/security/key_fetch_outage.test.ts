/**
 * Issue 12, item 2: a failed key fetch must not lock valid new-key tokens out. The outside run's
 * scenario over real HTTP: the embedded IdP rotates its signing key, its JWKS endpoint becomes
 * briefly unreachable, a token with a made-up `kid` arrives (anyone can send one), then valid
 * tokens signed with the new key. Before the fix App B answered 401 and the STS 400 to those for
 * 30 s (the cooldown the failed fetch started). Now: during the outage both answer 503
 * `temporarily_unavailable` (no verdict on the token), and the first valid token after the IdP
 * is back is accepted.
 *
 * The IdP's issuer URL is a switchable TCP proxy in front of it, so "unreachable" means what it
 * means in production: discovery and JWKS requests of App B and the STS fail at the connection.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildAppB } from '../../src/apps/app-b/app.js'
import { configVariables, loadEnv } from '../../src/config/env.js'
import { buildIdp, type Idp } from '../../src/idp/app.js'
import { createJwsSigner } from '../../src/jws/sign_jws.js'
import { createLogger } from '../../src/log/logger.js'
import { buildSts } from '../../src/sts/app.js'
import { readStsConfigFile } from '../../src/sts/config.js'
import {
  basicAuth,
  decodeJwt,
  exchangeToken,
  loginForTokens,
  type Stack,
} from '../helpers/stack.js'
import { startSwitchableProxy, type SwitchableProxy } from '../helpers/switchable_proxy.js'

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'

function urlOf(app: FastifyInstance): string {
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

describe('key fetch outage after a rotation (issue 12, item 2)', () => {
  let proxy: SwitchableProxy
  let idp: Idp
  let appB: FastifyInstance
  let sts: FastifyInstance
  let stack: Stack
  let dataDir: string

  before(async () => {
    proxy = await startSwitchableProxy()
    dataDir = mkdtempSync(join(tmpdir(), 'onbehalf-outage-'))
    const env = loadEnv({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: dataDir,
      IDP_ISSUER: proxy.url,
      STS_ISSUER: 'http://127.0.0.1:9',
      // This test is about the keys: with introspection on, App B would ask the (unreachable)
      // IdP per delegated token and answer 503 for every one, cached keys or not.
      APP_B_INTROSPECTION: 'off',
    })
    const logger = createLogger({ level: 'silent' })
    idp = await buildIdp({ env, logger })
    await idp.app.listen({ host: '127.0.0.1', port: 0 })
    proxy.target = (idp.app.server.address() as AddressInfo).port
    appB = await buildAppB({ env, logger })
    await appB.listen({ host: '127.0.0.1', port: 0 })
    sts = await buildSts(readStsConfigFile(env.STS_CONFIG, configVariables(env)), { logger })
    await sts.listen({ host: '127.0.0.1', port: 0 })
    // What loginForTokens and exchangeToken need; this test serves its own apps.
    stack = {
      env,
      idp,
      serve: async () => {
        throw new TypeError('not used here')
      },
      close: async () => {},
    }
  })

  after(async () => {
    await sts?.close()
    await appB?.close()
    await idp?.app.close()
    await proxy?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  /** A login token of App A's user and the App B token App A gets for it at the IdP. */
  async function freshTokens(): Promise<{ login: string; forAppB: string }> {
    const login = await loginForTokens(stack, { scope: 'openid todos:read' })
    const exchanged = await exchangeToken(stack, {
      subject_token: login.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
      scope: 'todos:read',
    })
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body))
    return { login: login.access_token, forAppB: exchanged.body.access_token }
  }

  const callAppB = (token: string) =>
    fetch(`${urlOf(appB)}/api/todos/count`, { headers: { authorization: `Bearer ${token}` } })

  const exchangeAtSts = (subjectToken: string) =>
    fetch(`${urlOf(sts)}/token`, {
      method: 'POST',
      headers: {
        authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subjectToken,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
      }),
    })

  /** Looks like the IdP's token but names a key nobody has: anybody can send this. */
  function madeUpKidToken(like: string): string {
    const { payload } = decodeJwt(like)
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    return createJwsSigner({ alg: 'ES256', kid: randomUUID(), privateKey }).sign(
      { typ: 'at+jwt' },
      { ...payload, jti: randomUUID() },
    )
  }

  it('when the JWKS is unreachable after a rotation then 503 meanwhile, and valid new-key tokens pass the moment it is back', async () => {
    // App B and the STS know the first key.
    const before = await freshTokens()
    assert.equal((await callAppB(before.forAppB)).status, 200)
    assert.equal((await exchangeAtSts(before.login)).status, 200)

    const rotated = await idp.keyStore.rotate()
    const fresh = await freshTokens()
    assert.equal(decodeJwt(fresh.forAppB).header.kid, rotated.active.kid, 'signed with the new key')
    assert.equal(decodeJwt(fresh.login).header.kid, rotated.active.kid)

    proxy.down()
    // Made-up kids while the IdP cannot be reached: no verdict possible, so no "invalid".
    const forgedAtAppB = await callAppB(madeUpKidToken(fresh.forAppB))
    assert.equal(forgedAtAppB.status, 503)
    assert.equal(
      ((await forgedAtAppB.json()) as { error: string }).error,
      'temporarily_unavailable',
    )
    assert.match(forgedAtAppB.headers.get('retry-after') ?? '', /^\d+$/)
    const forgedAtSts = await exchangeAtSts(madeUpKidToken(fresh.login))
    assert.equal(forgedAtSts.status, 503)
    assert.equal(((await forgedAtSts.json()) as { error: string }).error, 'temporarily_unavailable')
    assert.match(forgedAtSts.headers.get('retry-after') ?? '', /^\d+$/)

    // Valid new-key tokens during the outage: 503 too, never 401 / 400.
    const validAtAppB = await callAppB(fresh.forAppB)
    assert.equal(validAtAppB.status, 503, 'App B must not call a valid token invalid')
    const validAtSts = await exchangeAtSts(fresh.login)
    assert.equal(validAtSts.status, 503, 'the STS must not call a valid token invalid')
    // Tokens with the key App B and the STS already have keep working throughout.
    assert.equal((await callAppB(before.forAppB)).status, 200)

    proxy.up()
    const backAt = performance.now()
    const appBStatuses: number[] = []
    const stsStatuses: number[] = []
    for (let i = 0; i < 3; i++) {
      appBStatuses.push((await callAppB(fresh.forAppB)).status)
      stsStatuses.push((await exchangeAtSts(fresh.login)).status)
    }
    const elapsed = performance.now() - backAt
    assert.deepEqual(appBStatuses, [200, 200, 200], 'App B accepts the first valid token')
    assert.deepEqual(stsStatuses, [200, 200, 200], 'the STS accepts the first valid token')
    // The made-up kid is still refused, now as what it is.
    assert.equal((await callAppB(madeUpKidToken(fresh.forAppB))).status, 401)
    const refusedAtSts = await exchangeAtSts(madeUpKidToken(fresh.login))
    assert.equal(refusedAtSts.status, 400)
    assert.equal(((await refusedAtSts.json()) as { error: string }).error, 'invalid_request')
    console.log(
      `# key fetch outage: 0 of 6 valid new-key requests refused after the IdP came back (${elapsed.toFixed(0)} ms for all 6); during the outage 503 at App B and the STS`,
    )
  })
})
