/**
 * The STS with the shared state the environment names: its signing keys in PostgreSQL when
 * `DATABASE_URL` is set, its per-IP limit in Redis when `REDIS_URL` is set (several STS instances
 * behind a load balancer); otherwise exactly `buildSts` (key directory, in-process limit). The
 * connections opened here close with the app.
 */
import type { FastifyInstance } from 'fastify'
import { metricsSettingsOf, trustProxyOption, type Env } from '../config/env.js'
import { createPostgresKeyBackend } from '../keys/postgres_key_backend.js'
import type { RateLimit } from '../limits/rate_limiter.js'
import { createRedisRateLimiter } from '../limits/redis_rate_limiter.js'
import { openRedis, pingRedis } from '../limits/redis.js'
import type { Logger } from '../log/logger.js'
import { openPostgresPool } from '../storage/postgres.js'
import { buildSts } from '../sts/app.js'
import type { StsConfig } from '../sts/config.js'

export async function buildStsWithSharedState(
  config: StsConfig,
  options: {
    env: Pick<
      Env,
      | 'DATABASE_URL'
      | 'REDIS_URL'
      | 'REDIS_KEY_PREFIX'
      | 'METRICS'
      | 'METRICS_TOKEN'
      | 'TRUST_PROXY'
    >
    logger: Logger
  },
): Promise<FastifyInstance> {
  const { env, logger } = options
  const pool = env.DATABASE_URL
    ? openPostgresPool(env.DATABASE_URL, { name: 'sts', max: 4 })
    : undefined
  const redis = env.REDIS_URL ? openRedis(env.REDIS_URL, 'sts', env.REDIS_KEY_PREFIX) : undefined
  const release = async () => {
    redis?.disconnect()
    await pool?.end()
  }
  try {
    return await buildSts(config, {
      logger,
      onClose: release,
      metrics: metricsSettingsOf(env),
      trustProxy: trustProxyOption(env.TRUST_PROXY),
      ...(pool ? { signingKeyBackend: await createPostgresKeyBackend({ pool, name: 'sts' }) } : {}),
      ...(redis
        ? {
            rateLimiter: (limit: RateLimit) =>
              createRedisRateLimiter(limit, { redis, name: 'sts:token:ip', logger }),
            readinessChecks: { redis: () => pingRedis(redis) },
          }
        : {}),
    })
  } catch (error) {
    await release()
    throw error
  }
}
