/**
 * TRUST_PROXY and the per-IP limits (IdP token endpoint and login form, STS token endpoint), over
 * real HTTP from 127.0.0.1. Off (the default), X-Forwarded-For is ignored: a client that forges a
 * new address per request is still one IP and is throttled. With the load balancer's address
 * trusted, the address it forwarded is the client's: two clients behind one proxy are counted
 * apart, and one client is counted once whatever proxy hop it came through.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadEnv } from '../../src/config/env.js'
import { buildSts } from '../../src/sts/app.js'
import { trustProxyOption } from '../../src/config/env.js'
import { bindSocket } from '../helpers/listen.js'
import { startStack } from '../helpers/stack.js'
import { captureLogger, FakeUpstream, loadConfig, stsConfigJson, tempDir } from '../sts/helpers.js'

/** A token request the endpoint refuses (no client authentication): it still counts. */
async function postToken(url: string, forwardedFor?: string): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
    },
    body: 'grant_type=client_credentials',
  })
  await response.arrayBuffer()
  return response.status
}

async function idpWith(trustProxy?: string) {
  return startStack({
    env: trustProxy === undefined ? {} : { TRUST_PROXY: trustProxy },
    idp: () => ({ abuseLimits: { tokenPerIp: { max: 2, windowSeconds: 600 } } }),
  })
}

describe('TRUST_PROXY at the IdP token endpoint', () => {
  it('WhenTrustProxyIsOffThenAForgedForwardedForCannotDodgeThePerIpLimit', async () => {
    const stack = await idpWith()
    try {
      const url = `${stack.idp.issuer}/token`
      const statuses = []
      for (const forged of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'])
        statuses.push(await postToken(url, forged))
      assert.deepEqual(
        statuses.map((status) => status === 429),
        [false, false, true, true],
      )
    } finally {
      await stack.close()
    }
  })

  it('WhenTheProxyIsTrustedThenTheForwardedClientIpIsCounted', async () => {
    const stack = await idpWith('127.0.0.1')
    try {
      const url = `${stack.idp.issuer}/token`
      // Two clients behind the trusted proxy: each has its own count.
      for (const client of ['198.51.100.7', '198.51.100.8']) {
        assert.notEqual(await postToken(url, client), 429)
        assert.notEqual(await postToken(url, client), 429)
      }
      // One client, its third request, whatever it claimed further left (a forged first hop).
      assert.equal(await postToken(url, '10.9.9.9, 198.51.100.7'), 429)
      assert.equal(await postToken(url, '198.51.100.8'), 429)
      assert.notEqual(await postToken(url, '198.51.100.9'), 429)
    } finally {
      await stack.close()
    }
  })
})

describe('TRUST_PROXY at the STS token endpoint', () => {
  async function stsWith(trustProxy: string) {
    const upstream = await new FakeUpstream().start()
    const keyDir = tempDir()
    const config = loadConfig({
      ...stsConfigJson({
        issuer: 'http://sts.test',
        keyDir: keyDir.path,
        upstream: { issuer: upstream.issuer, algorithms: ['ES256'] },
      }),
      tokenRequestsPerMinutePerIp: 2,
    })
    const app = await buildSts(config, {
      logger: captureLogger().logger,
      trustProxy: trustProxyOption(loadEnv({ TRUST_PROXY: trustProxy }).TRUST_PROXY),
    })
    const socket = await bindSocket()
    await socket.serve(app)
    return {
      url: `${socket.url}/token`,
      async close() {
        await socket.close()
        await app.close()
        await upstream.close()
        keyDir.remove()
      },
    }
  }

  it('WhenTrustProxyIsOffThenAForgedForwardedForCannotDodgeThePerIpLimit', async () => {
    const sts = await stsWith('off')
    try {
      assert.notEqual(await postToken(sts.url, '203.0.113.1'), 429)
      assert.notEqual(await postToken(sts.url, '203.0.113.2'), 429)
      assert.equal(await postToken(sts.url, '203.0.113.3'), 429)
    } finally {
      await sts.close()
    }
  })

  it('WhenOneProxyHopIsTrustedThenTheForwardedClientIpIsCounted', async () => {
    const sts = await stsWith('1')
    try {
      for (const client of ['198.51.100.7', '198.51.100.8']) {
        assert.notEqual(await postToken(sts.url, client), 429)
        assert.notEqual(await postToken(sts.url, client), 429)
      }
      assert.equal(await postToken(sts.url, '198.51.100.7'), 429)
      assert.notEqual(await postToken(sts.url, '198.51.100.9'), 429)
    } finally {
      await sts.close()
    }
  })
})

describe('TRUST_PROXY configuration', () => {
  it('WhenTrustProxyIsValidThenItIsParsed', () => {
    assert.equal(loadEnv({}).TRUST_PROXY, false)
    assert.equal(loadEnv({ TRUST_PROXY: 'off' }).TRUST_PROXY, false)
    assert.equal(loadEnv({ TRUST_PROXY: '2' }).TRUST_PROXY, 2)
    assert.deepEqual(loadEnv({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1' }).TRUST_PROXY, [
      '127.0.0.1',
      '10.0.0.0/8',
      '::1',
    ])
  })

  it('WhenTrustProxyIsInvalidThenTheErrorNamesTheVariable', () => {
    for (const value of ['true', 'on', '0', '11', '10.0.0.0/33', 'example.com', '1.2.3.4/8/1'])
      assert.throws(() => loadEnv({ TRUST_PROXY: value }), /TRUST_PROXY: must be `off`/, value)
  })
})
