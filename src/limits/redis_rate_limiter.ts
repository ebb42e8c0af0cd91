/**
 * A `RateLimiter` counted in Redis (rate-limiter-flexible's `RateLimiterRedis`, one atomic
 * INCR-with-expiry script per hit), so every instance behind a load balancer shares one count per
 * key: the limit triggers at the same count whichever instance is hit. Fixed windows of
 * `windowSeconds`, like the in-memory limiter.
 *
 * Redis down: the documented choice is to keep limiting, per instance — rate-limiter-flexible's
 * insurance limiter (`RateLimiterMemory` with the same limit) answers while Redis cannot, and a
 * warning is logged once per outage. No request fails because the limiter's store did; the limit
 * is at worst N times looser with N instances, and tight again as soon as Redis answers.
 */
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible'
import type { Logger } from '../log/logger.js'
import type { RateLimit, RateLimiter } from './rate_limiter.js'
import type { RedisClient } from './redis.js'

export interface RedisRateLimiterOptions {
  readonly redis: RedisClient
  /** The key prefix, one per limit: `idp:token:ip`, `sts:token:ip`. */
  readonly name: string
  readonly logger?: Logger
}

export function createRedisRateLimiter(
  limit: RateLimit,
  options: RedisRateLimiterOptions,
): RateLimiter {
  const { redis, name, logger } = options
  let degraded = false
  const insurance = new RateLimiterMemory({
    points: limit.max,
    duration: limit.windowSeconds,
  })
  const shared = new RateLimiterRedis({
    storeClient: redis,
    // ioredis adds the deployment's prefix (REDIS_KEY_PREFIX) in front.
    keyPrefix: `limit:${name}`,
    points: limit.max,
    duration: limit.windowSeconds,
    // Not connected: go to the insurance limiter at once rather than wait for a timeout.
    rejectIfRedisNotReady: true,
    insuranceLimiter: insurance,
  })
  /** Whether Redis answered: logs the switch to and from per-instance counting once each. */
  function observe(): void {
    const ready = redis.status === 'ready'
    if (!ready && !degraded) {
      degraded = true
      logger?.warn(
        { event: 'limiter_degraded', limit: name },
        'Redis unavailable: abuse limits counted per instance until it answers',
      )
    } else if (ready && degraded) {
      degraded = false
      logger?.info({ event: 'limiter_restored', limit: name }, 'abuse limits shared again')
    }
  }

  return Object.freeze({
    async retryAfter(key: string): Promise<number> {
      observe()
      const result = await shared.get(key)
      if (result === null || result.consumedPoints < limit.max) return 0
      return Math.max(1, Math.ceil(result.msBeforeNext / 1000))
    },
    async hit(key: string): Promise<void> {
      observe()
      // penalty: counts one point without refusing (the caller decided already).
      await shared.penalty(key, 1)
    },
  })
}
