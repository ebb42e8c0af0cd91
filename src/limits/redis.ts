/**
 * Opens onbehalf's Redis connection (ioredis) when `REDIS_URL` is set: the abuse limits of every
 * instance count in it. Commands fail fast while the connection is down (no offline queue, one
 * attempt), so a limiter falls back at once (redis_rate_limiter.ts) instead of holding requests;
 * ioredis keeps reconnecting in the background.
 */
import { Redis } from 'ioredis'

export type RedisClient = Redis

export function openRedis(url: string, name: string, keyPrefix = 'onbehalf:'): RedisClient {
  const redis = new Redis(url, {
    keyPrefix,
    connectionName: `onbehalf-${name}`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 1000,
    // Reconnect forever, at most every 2 s: Redis coming back needs no restart.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  })
  // Without a listener a lost connection would be an uncaught 'error'; the limiter reports it.
  redis.on('error', () => {})
  return redis
}

/** Resolves when Redis answers PING (readiness), rejects otherwise. */
export async function pingRedis(redis: RedisClient): Promise<void> {
  await redis.ping()
}
