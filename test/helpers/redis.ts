/**
 * The Redis at 127.0.0.1:6379 (`TEST_REDIS_URL` overrides) for tests that need the real one. Each
 * test names its keys with a random prefix, so runs never see each other's counts.
 */
import { Redis } from 'ioredis'
import { servicesRequired } from './services.js'

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * Undefined when Redis answers PING; otherwise the reason, as a skip message (or, with
 * `ONBEHALF_REQUIRE_SERVICES=1`, a thrown error).
 */
export async function redisUnavailable(): Promise<string | undefined> {
  const redis = new Redis(TEST_REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  })
  redis.on('error', () => {})
  try {
    await redis.connect()
    await redis.ping()
    return undefined
  } catch (error) {
    return servicesRequired(`Redis at ${TEST_REDIS_URL} unavailable: ${(error as Error).message}`)
  } finally {
    redis.disconnect()
  }
}
