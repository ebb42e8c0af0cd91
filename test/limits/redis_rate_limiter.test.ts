/**
 * The Redis-backed limiter against the real Redis: two limiters with their own connections stand
 * for two instances. The limit holds at the same count whichever instance counts, keys and limits
 * stay apart, and with Redis unreachable the limiter keeps limiting per instance instead of failing.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type AddressInfo } from 'node:net'
import { after, describe, it } from 'node:test'
import { createRedisRateLimiter } from '../../src/limits/redis_rate_limiter.js'
import { openRedis, type RedisClient } from '../../src/limits/redis.js'
import { redisUnavailable, TEST_REDIS_URL } from '../helpers/redis.js'

const skip = await redisUnavailable()

const clients: RedisClient[] = []
after(() => {
  for (const client of clients) client.disconnect()
})
function connect(url = TEST_REDIS_URL): RedisClient {
  const client = openRedis(url, 'test')
  clients.push(client)
  return client
}
async function ready(client: RedisClient): Promise<void> {
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve))
}

describe('rate limits counted in Redis', { skip }, () => {
  it('when two instances count one key then the limit triggers at the shared count, not per instance', async () => {
    const name = `test:${randomBytes(6).toString('hex')}`
    const [one, two] = [connect(), connect()]
    await Promise.all([ready(one), ready(two)])
    const limit = { max: 5, windowSeconds: 60 }
    const first = createRedisRateLimiter(limit, { redis: one, name })
    const second = createRedisRateLimiter(limit, { redis: two, name })
    for (let i = 0; i < 5; i++) {
      const limiter = i % 2 === 0 ? first : second
      assert.equal(await limiter.retryAfter('10.0.0.1'), 0, `request ${i + 1} is under the limit`)
      await limiter.hit('10.0.0.1')
    }
    const wait = await second.retryAfter('10.0.0.1')
    assert.ok(wait >= 1 && wait <= 60, `the sixth waits for the window (${wait} s)`)
    assert.ok((await first.retryAfter('10.0.0.1')) >= 1, 'on either instance')
    assert.equal(await first.retryAfter('10.0.0.2'), 0, 'another key is not limited')
    const other = createRedisRateLimiter(limit, { redis: one, name: `${name}:other` })
    assert.equal(await other.retryAfter('10.0.0.1'), 0, 'another limit is not affected')
  })

  it('when Redis cannot be reached then requests are still limited per instance and nothing throws', async () => {
    // A port nobody listens on: bound, then closed.
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await new Promise((resolve) => server.close(resolve))
    const down = connect(`redis://127.0.0.1:${port}`)
    const warnings: unknown[] = []
    const logger = { warn: (entry: unknown) => warnings.push(entry), info: () => {} }
    const limiter = createRedisRateLimiter(
      { max: 2, windowSeconds: 60 },
      { redis: down, name: 'test:down', logger: logger as never },
    )
    assert.equal(await limiter.retryAfter('k'), 0)
    await limiter.hit('k')
    await limiter.hit('k')
    assert.ok((await limiter.retryAfter('k')) >= 1, 'the per-instance fallback limits')
    assert.equal(warnings.length, 1, 'the outage is logged once')
  })
})
