/**
 * The client kit's DPoP key rotation (`DpopKey.rotate()`), over real HTTP against the embedded
 * IdP and App B (the resource kit): after a rotation the exchange client asks for a new token
 * instead of serving the cached one bound to the old key, the new token is bound to the new key
 * (`cnf.jkt` changes), App B accepts it only with proofs from the new key, and a token bound to
 * the previous key keeps working with that key until it expires.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildAppB } from '../../src/apps/app-b/app.js'
import { createDpopKey, fetchWithDpop, type DpopKey } from '../../src/client/dpop.js'
import {
  createTokenExchangeClient,
  ExchangedTokenCache,
  type TokenExchangeClient,
} from '../../src/client/index.js'
import { createLogger } from '../../src/log/logger.js'
import {
  clientSecretOf,
  decodeJwt,
  loginForTokens,
  startStack,
  type Stack,
} from '../helpers/stack.js'

describe('client kit: DPoP key rotation', () => {
  let stack: Stack
  let appB: FastifyInstance
  let dpop: DpopKey
  let exchanger: TokenExchangeClient
  let subjectToken: string
  let countUrl: string
  let tokenRequests = 0

  before(async () => {
    stack = await startStack({ logger: createLogger({ level: 'silent' }) })
    appB = await buildAppB({ env: stack.env, logger: createLogger({ level: 'silent' }) })
    await stack.serve('appB', appB)
    countUrl = `${stack.env.APP_B_URL}/api/todos/count`
    dpop = await createDpopKey()
    exchanger = createTokenExchangeClient({
      tokenEndpoint: `${stack.idp.issuer}/token`,
      clientId: 'app-a',
      clientSecret: clientSecretOf(stack.env, 'app-a'),
      dpop,
      cache: new ExchangedTokenCache(),
      fetch: async (input, init) => {
        tokenRequests++
        return fetch(input, init)
      },
    })
    subjectToken = (await loginForTokens(stack, { scope: 'openid todos:read' })).access_token
  })
  after(async () => {
    await appB.close()
    await stack.close()
  })

  it('rotateWhenExchangedAgainThenNewTokenBoundToNewKeyAndOldKeyProofsRefused', async () => {
    const params = { subjectToken, audience: 'app-b', scope: 'todos:read' }
    const before = await exchanger.exchange(params)
    const oldJkt = dpop.jkt
    assert.equal(before.fromCache, false)
    assert.deepEqual(decodeJwt(before.accessToken).payload.cnf, { jkt: oldJkt })
    const cached = await exchanger.exchange(params)
    assert.equal(cached.fromCache, true, 'before the rotation the cache serves it')
    const requestsBefore = tokenRequests

    await dpop.rotate()
    assert.notEqual(dpop.jkt, oldJkt, 'a new key')

    const after = await exchanger.exchange(params)
    assert.equal(after.fromCache, false, 'the token bound to the old key is not served')
    assert.equal(tokenRequests, requestsBefore + 1, 'a new exchange was made')
    assert.notEqual(after.accessToken, before.accessToken)
    assert.equal(after.jkt, dpop.jkt)
    assert.deepEqual(decodeJwt(after.accessToken).payload.cnf, { jkt: dpop.jkt })

    // App B: the new token with a proof from the new key passes…
    const good = await fetchWithDpop(dpop, countUrl, { accessToken: after.accessToken })
    assert.equal(good.status, 200)
    // …with a proof from the old key (still held for tokens bound to it) it is refused.
    const oldKeyProof = await dpop.proof({
      method: 'GET',
      url: countUrl,
      accessToken: after.accessToken,
      jkt: oldJkt,
    })
    const refused = await fetch(countUrl, {
      headers: { authorization: `DPoP ${after.accessToken}`, dpop: oldKeyProof },
    })
    assert.equal(refused.status, 401)
    const body = (await refused.json()) as Record<string, unknown>
    assert.equal(body.error, 'invalid_dpop_proof')
    assert.equal(body.count, undefined, 'no todo data')

    // The token bound to the old key still works with the old key until it expires.
    const previous = await fetchWithDpop(dpop, countUrl, {
      accessToken: before.accessToken,
      jkt: oldJkt,
    })
    assert.equal(previous.status, 200)
  })

  it('rotateTwiceThenTheKeyTwoRotationsOldIsGoneAndItsProofsCannotBeMade', async () => {
    const first = dpop.jkt
    await dpop.rotate()
    await dpop.rotate()
    await assert.rejects(dpop.proof({ method: 'GET', url: countUrl, jkt: first }), /no longer held/)
  })
})
