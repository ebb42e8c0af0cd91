/**
 * DPoP (RFC 9449 §7) at a resource server, over real HTTP: App B's service API (the resource kit)
 * with tokens the embedded IdP bound by exchange. A bound token passes only as `DPoP` with a fresh
 * proof from its key over this method, this URI and this token; a stolen bound token sent as a
 * bearer token, a replayed proof, a proof for another token or from another key are refused with
 * the RFC 6750/9449 challenge, and no todo data leaves. Also the explicit policy under which
 * another client (App B) exchanges a bound token of App A's, proving the key.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildAppB } from '../../src/apps/app-b/app.js'
import { createDpopKey, type DpopKey } from '../../src/client/dpop.js'
import { createLogger } from '../../src/log/logger.js'
import {
  decodeJwt,
  exchangeToken,
  loginForTokens,
  startStack,
  type Stack,
} from '../helpers/stack.js'

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'

describe('DPoP at App B (resource kit)', () => {
  let stack: Stack
  let appB: FastifyInstance
  let policyDir: string
  let key: DpopKey
  let boundToken: string
  let bearerToken: string
  let countUrl: string

  before(async () => {
    const policy = JSON.parse(readFileSync('config/policy.json', 'utf8'))
    // Explicit policy: App B may exchange App A's DPoP-bound tokens when it proves their key.
    policy.clients['app-b'].tokenExchange.dpop = { boundSubjectsFrom: ['app-a'] }
    policyDir = mkdtempSync(join(tmpdir(), 'onbehalf-dpop-resource-'))
    writeFileSync(join(policyDir, 'policy.json'), JSON.stringify(policy))
    stack = await startStack({ env: { POLICY_FILE: join(policyDir, 'policy.json') } })
    appB = await buildAppB({ env: stack.env, logger: createLogger({ level: 'silent' }) })
    await stack.serve('appB', appB)
    countUrl = `${stack.env.APP_B_URL}/api/todos/count`
    key = await createDpopKey()
    const login = await loginForTokens(stack, { scope: 'openid todos:read activity:read' })
    const bound = await exchangeToken(
      stack,
      {
        subject_token: login.access_token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
        scope: 'todos:read activity:read',
      },
      { headers: { dpop: await key.proof({ method: 'POST', url: `${stack.idp.issuer}/token` }) } },
    )
    assert.equal(bound.status, 200, JSON.stringify(bound.body))
    boundToken = bound.body.access_token
    const bearer = await exchangeToken(stack, {
      subject_token: login.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
    })
    bearerToken = bearer.body.access_token
  })
  after(async () => {
    await appB.close()
    await stack.close()
    rmSync(policyDir, { recursive: true, force: true })
  })

  const get = (url: string, headers: Record<string, string>) => fetch(url, { headers })

  async function assertRefused(response: Response, error: string, scheme: 'Bearer' | 'DPoP') {
    assert.equal(response.status, 401)
    const body = (await response.json()) as Record<string, unknown>
    assert.equal(body.error, error)
    assert.equal(body.count, undefined, 'no todo data')
    assert.equal(body.user, undefined, 'no user named')
    const challenge = response.headers.get('www-authenticate') ?? ''
    assert.ok(challenge.startsWith(`${scheme} realm="app-b"`), challenge)
    assert.match(challenge, new RegExp(`error="${error}"`))
    if (scheme === 'DPoP') assert.match(challenge, /algs="ES256/)
  }

  it('resourceWhenBoundTokenWithFreshProofFromItsKeyThen200ForTheUser', async () => {
    const response = await get(
      countUrl,
      await key.authorizationHeaders({ method: 'GET', url: countUrl, accessToken: boundToken }),
    )
    assert.equal(response.status, 200)
    const body = (await response.json()) as Record<string, unknown>
    assert.equal(body.user, decodeJwt(boundToken).payload.sub)
    assert.equal(body.caller, 'app-a')
  })

  it('resourceWhenStolenBoundTokenSentAsBearerThenInvalidToken', async () => {
    await assertRefused(
      await get(countUrl, { authorization: `Bearer ${boundToken}` }),
      'invalid_token',
      'DPoP',
    )
  })

  it('resourceWhenBoundTokenUnderDpopWithoutProofThenInvalidDpopProof', async () => {
    await assertRefused(
      await get(countUrl, { authorization: `DPoP ${boundToken}` }),
      'invalid_dpop_proof',
      'DPoP',
    )
  })

  it('resourceWhenProofFromAnotherKeyThenInvalidDpopProof', async () => {
    const thief = await createDpopKey()
    await assertRefused(
      await get(
        countUrl,
        await thief.authorizationHeaders({ method: 'GET', url: countUrl, accessToken: boundToken }),
      ),
      'invalid_dpop_proof',
      'DPoP',
    )
  })

  it('resourceWhenProofReplayedThenSecondCallRefused', async () => {
    const headers = await key.authorizationHeaders({
      method: 'GET',
      url: countUrl,
      accessToken: boundToken,
    })
    assert.equal((await get(countUrl, headers)).status, 200)
    await assertRefused(await get(countUrl, headers), 'invalid_dpop_proof', 'DPoP')
  })

  it('resourceWhenProofCoversAnotherTokenThenAthMismatchRefused', async () => {
    const proof = await key.proof({ method: 'GET', url: countUrl, accessToken: bearerToken })
    await assertRefused(
      await get(countUrl, { authorization: `DPoP ${boundToken}`, dpop: proof }),
      'invalid_dpop_proof',
      'DPoP',
    )
  })

  it('resourceWhenProofNamesAnotherPathThenHtuMismatchRefused', async () => {
    const proof = await key.proof({
      method: 'GET',
      url: `${stack.env.APP_B_URL}/api/todos`,
      accessToken: boundToken,
    })
    await assertRefused(
      await get(countUrl, { authorization: `DPoP ${boundToken}`, dpop: proof }),
      'invalid_dpop_proof',
      'DPoP',
    )
  })

  it('resourceWhenUnboundTokenSentUnderDpopThenInvalidToken', async () => {
    await assertRefused(
      await get(
        countUrl,
        await key.authorizationHeaders({ method: 'GET', url: countUrl, accessToken: bearerToken }),
      ),
      'invalid_token',
      'DPoP',
    )
  })

  it('resourceWhenUnboundTokenAsBearerThenStill200 (DPoP is optional at App B)', async () => {
    const response = await get(countUrl, { authorization: `Bearer ${bearerToken}` })
    assert.equal(response.status, 200)
  })

  it('exchangeWhenAnotherClientProvesTheKeyUnderBoundSubjectsFromThenIssuedBoundToThatKey', async () => {
    const response = await exchangeToken(
      stack,
      {
        subject_token: boundToken,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-c',
        scope: 'activity:read',
      },
      {
        clientId: 'app-b',
        headers: { dpop: await key.proof({ method: 'POST', url: `${stack.idp.issuer}/token` }) },
      },
    )
    assert.equal(response.status, 200, JSON.stringify(response.body))
    assert.equal(response.body.token_type, 'DPoP')
    const claims = decodeJwt(response.body.access_token).payload
    assert.deepEqual(claims.cnf, { jkt: key.jkt })
    assert.deepEqual(claims.act, {
      sub: 'app-b',
      iss: stack.idp.issuer,
      act: { sub: 'app-a', iss: stack.idp.issuer },
    })
  })

  it('exchangeWhenAnotherClientUnderBoundSubjectsFromSendsAnotherKeyThenRefused', async () => {
    const other = await createDpopKey()
    const response = await exchangeToken(
      stack,
      {
        subject_token: boundToken,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-c',
        scope: 'activity:read',
      },
      {
        clientId: 'app-b',
        headers: { dpop: await other.proof({ method: 'POST', url: `${stack.idp.issuer}/token` }) },
      },
    )
    assert.equal(response.status, 400)
    assert.equal(response.body.error, 'invalid_dpop_proof')
    assert.equal(response.body.access_token, undefined)
  })
})
