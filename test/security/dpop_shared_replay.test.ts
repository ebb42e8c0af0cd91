/**
 * The DPoP replay cache shared across instances (RFC 9449 §11.1), against the real Redis and over
 * real HTTP: two App B instances and two STS instances with REDIS_URL (a random REDIS_KEY_PREFIX
 * per run), as behind one load balancer. A proof used at one instance is refused at the other,
 * and nothing is served or minted for it; without Redis each instance only knows its own proofs
 * (the gap the shared cache closes). Redis down: the documented choice is fail closed — 503
 * `temporarily_unavailable` with Retry-After for DPoP requests, never an unchecked proof.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildAppB } from '../../src/apps/app-b/app.js'
import { buildStsWithSharedState } from '../../src/cli/sts_shared_state.js'
import { createDpopKey, type DpopKey } from '../../src/client/dpop.js'
import { createTokenExchangeClient } from '../../src/client/index.js'
import type { Env } from '../../src/config/env.js'
import { createLogger } from '../../src/log/logger.js'
import { parseStsConfig, type StsConfig } from '../../src/sts/config.js'
import { bindSocket, type BoundSocket } from '../helpers/listen.js'
import { redisUnavailable, TEST_REDIS_URL } from '../helpers/redis.js'
import {
  clientSecretOf,
  exchangeToken,
  loginForTokens,
  startStack,
  type Stack,
} from '../helpers/stack.js'
import { tempDir } from '../sts/helpers.js'

const skip = await redisUnavailable()
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const silent = createLogger({ level: 'silent' })

/** A redis:// URL nobody answers at: a port bound, then closed. */
async function deadRedisUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `redis://127.0.0.1:${port}`
}

describe('DPoP replay cache shared across instances', { skip }, () => {
  let stack: Stack
  const opened: Array<{ close(): Promise<unknown> }> = []
  let prefix: string

  before(async () => {
    prefix = `test-${randomBytes(6).toString('hex')}:`
    // The IdP shares Redis too: its exchange grant keeps the proofs it has seen there.
    stack = await startStack({
      logger: silent,
      env: { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix },
    })
  })
  after(async () => {
    for (const item of opened.reverse()) await item.close()
    await stack.close()
  })

  /** An App B instance on a socket of its own; proofs name the public origin (APP_B_URL). */
  async function appBInstance(env: Env): Promise<string> {
    const app = await buildAppB({ env, logger: silent })
    const socket = await bindSocket()
    await socket.serve(app)
    opened.push(app, socket)
    return `${socket.url}/api/todos/count`
  }

  async function boundTokenFor(key: DpopKey): Promise<string> {
    const login = await loginForTokens(stack, { scope: 'openid todos:read' })
    const client = createTokenExchangeClient({
      tokenEndpoint: `${stack.idp.issuer}/token`,
      clientId: 'app-a',
      clientSecret: clientSecretOf(stack.env, 'app-a'),
      dpop: key,
    })
    return (await client.exchange({ subjectToken: login.access_token, audience: 'app-b' }))
      .accessToken
  }

  describe('at App B (the resource kit)', () => {
    let key: DpopKey
    let boundToken: string
    let publicUrl: string

    before(async () => {
      key = await createDpopKey()
      boundToken = await boundTokenFor(key)
      publicUrl = `${stack.env.APP_B_URL}/api/todos/count`
    })

    const proofHeaders = () =>
      key.authorizationHeaders({ method: 'GET', url: publicUrl, accessToken: boundToken })

    it('resourceWhenProofUsedAtOneInstanceIsReplayedAtAnotherSharingRedisThenRefused', async () => {
      const env = { ...stack.env, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix }
      const [one, two] = [await appBInstance(env), await appBInstance(env)]
      const headers = await proofHeaders()
      const first = await fetch(one, { headers })
      assert.equal(first.status, 200, 'the first use is served')
      const replay = await fetch(two, { headers })
      assert.equal(replay.status, 401)
      const body = (await replay.json()) as Record<string, unknown>
      assert.equal(body.error, 'invalid_dpop_proof')
      assert.equal(body.count, undefined, 'no todo data for the replay')
      assert.match(
        replay.headers.get('www-authenticate') ?? '',
        /^DPoP .*error="invalid_dpop_proof"/,
      )
      // A fresh proof still works at the second instance: only the replay was refused.
      assert.equal((await fetch(two, { headers: await proofHeaders() })).status, 200)
    })

    it('resourceWhenInstancesDoNotShareRedisThenEachKnowsOnlyItsOwnProofs', async () => {
      const env = { ...stack.env, REDIS_URL: undefined }
      const [one, two] = [await appBInstance(env), await appBInstance(env)]
      const headers = await proofHeaders()
      assert.equal((await fetch(one, { headers })).status, 200)
      assert.equal((await fetch(one, { headers })).status, 401, 'replayed at the same instance')
      // The gap REDIS_URL closes: a per-process cache has not seen the other instance's proof.
      assert.equal((await fetch(two, { headers })).status, 200)
    })

    it('resourceWhenRedisIsDownThenDpopRequestsFailClosedWith503AndNoData', async () => {
      const url = await appBInstance({ ...stack.env, REDIS_URL: await deadRedisUrl() })
      const response = await fetch(url, { headers: await proofHeaders() })
      assert.equal(response.status, 503)
      assert.equal(response.headers.get('retry-after'), '5')
      const body = (await response.json()) as Record<string, unknown>
      assert.equal(body.error, 'temporarily_unavailable')
      assert.equal(body.count, undefined, 'no todo data')
    })
  })

  describe('at the IdP token endpoint', () => {
    it('idpWhenProofUsedForAnExchangeThenItIsRecordedInRedisAndItsReplayRefusedWithNothingMinted', async () => {
      const subjectToken = (await loginForTokens(stack)).access_token
      const key = await createDpopKey()
      const proof = await key.proof({ method: 'POST', url: `${stack.idp.issuer}/token` })
      const params = {
        subject_token: subjectToken,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
      }
      const first = await exchangeToken(stack, params, { headers: { dpop: proof } })
      assert.equal(first.status, 200, JSON.stringify(first.body))
      // What every IdP instance consults: the proof's entry under this run's prefix.
      const redis = new Redis(TEST_REDIS_URL)
      try {
        const keys = await redis.keys(`${prefix}dpop:idp:${key.jkt}:*`)
        assert.equal(keys.length, 1, 'one entry for the proof, keyed by its key')
        const ttl = await redis.pttl(keys[0]!)
        assert.ok(ttl > 0 && ttl <= 62_000, `it lives for the proof's window (${ttl} ms)`)
      } finally {
        redis.disconnect()
      }
      const replay = await exchangeToken(stack, params, { headers: { dpop: proof } })
      assert.equal(replay.status, 400)
      assert.equal(replay.body.error, 'invalid_dpop_proof')
      assert.equal(replay.body.access_token, undefined, 'no token minted for the replay')
    })
  })

  describe('at the STS token endpoint', () => {
    let issuerSocket: BoundSocket
    let keyDir: { path: string; remove(): void }
    let config: StsConfig
    let subjectToken: string

    before(async () => {
      keyDir = tempDir()
      issuerSocket = await bindSocket()
      opened.push(issuerSocket, { close: async () => keyDir.remove() })
      config = parseStsConfig(
        {
          issuer: issuerSocket.url,
          keys: { directory: keyDir.path },
          upstreams: { embedded: { issuer: stack.idp.issuer, algorithms: ['ES256'] } },
          targets: { 'app-b': { resourceUris: ['${APP_B_URL}'], scopes: ['todos:read'] } },
          clients: {
            'app-a': {
              secretEnv: 'APP_A_CLIENT_SECRET',
              tokenExchange: {
                enabled: true,
                allowedAudiences: ['app-b'],
                scopeCeiling: ['todos:read'],
              },
            },
          },
        },
        stack.env as unknown as Record<string, string>,
        'shared replay test',
      )
      subjectToken = (await loginForTokens(stack)).access_token
    })

    /** An STS instance on a socket of its own; proofs name the public token endpoint. */
    async function stsInstance(redisUrl: string, served?: BoundSocket): Promise<string> {
      const app: FastifyInstance = await buildStsWithSharedState(config, {
        env: {
          REDIS_URL: redisUrl,
          REDIS_KEY_PREFIX: prefix,
          DPOP_NONCE_SECRET: undefined,
          DPOP_NONCE_WINDOW_SECONDS: 300,
          DATABASE_URL: undefined,
          METRICS: 'off',
          METRICS_TOKEN: undefined,
          TRUST_PROXY: false,
        },
        logger: silent,
      })
      const socket = served ?? (await bindSocket())
      await socket.serve(app)
      opened.push(app)
      if (served === undefined) opened.push(socket)
      return `${socket.url}/token`
    }

    const exchangeAt = async (endpoint: string, proof: string) =>
      exchangeToken(
        stack,
        { subject_token: subjectToken, subject_token_type: ACCESS_TOKEN, audience: 'app-b' },
        { tokenEndpoint: endpoint, headers: { dpop: proof } },
      )

    it('stsWhenProofUsedAtOneInstanceIsReplayedAtAnotherSharingRedisThenRefusedAndNothingMinted', async () => {
      const one = await stsInstance(TEST_REDIS_URL, issuerSocket)
      const two = await stsInstance(TEST_REDIS_URL)
      const key = await createDpopKey()
      const proof = await key.proof({ method: 'POST', url: one })
      const first = await exchangeAt(one, proof)
      assert.equal(first.status, 200, JSON.stringify(first.body))
      const replay = await exchangeAt(two, proof)
      assert.equal(replay.status, 400)
      assert.equal(replay.body.error, 'invalid_dpop_proof')
      assert.equal(replay.body.access_token, undefined, 'no token minted for the replay')
    })

    it('stsWhenRedisIsDownThenDpopExchangesFailClosedWith503AndNothingMinted', async () => {
      const endpoint = await stsInstance(await deadRedisUrl())
      const key = await createDpopKey()
      // htu: the issuer's token endpoint, as every instance publishes it.
      const response = await exchangeAt(
        endpoint,
        await key.proof({ method: 'POST', url: `${issuerSocket.url}/token` }),
      )
      assert.equal(response.status, 503, JSON.stringify(response.body))
      assert.equal(response.body.error, 'temporarily_unavailable')
      assert.ok(response.headers.get('retry-after'))
      assert.equal(response.body.access_token, undefined, 'no token minted')
    })
  })
})
