/**
 * The STS with the shared state the environment names: its signing keys in PostgreSQL when
 * `DATABASE_URL` is set, its per-IP limit in Redis when `REDIS_URL` is set (several STS instances
 * behind a load balancer) and so are the DPoP proofs it has seen; its DPoP nonces from
 * `DPOP_NONCE_SECRET` when set; otherwise exactly `buildSts` (key directory, in-process limit). The
 * connections opened here close with the app.
 */
import type { FastifyInstance } from 'fastify'
import { metricsSettingsOf, trustProxyOption, type Env } from '../config/env.js'
import type { RateLimit } from '../limits/rate_limiter.js'
import { createDpopNonces } from '../jwt/dpop_nonce.js'
import type { Logger } from '../log/logger.js'
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
      | 'DPOP_NONCE_SECRET'
      | 'DPOP_NONCE_WINDOW_SECONDS'
      | 'METRICS'
      | 'METRICS_TOKEN'
      | 'TRUST_PROXY'
    >
    logger: Logger
  },
): Promise<FastifyInstance> {
  const { env, logger } = options
  // Loaded only when configured: pg and ioredis cost resident memory an STS without them never uses.
  const postgres = env.DATABASE_URL
    ? {
        ...(await import('../storage/postgres.js')),
        ...(await import('../keys/postgres_key_backend.js')),
      }
    : undefined
  const redisModules = env.REDIS_URL
    ? {
        ...(await import('../limits/redis.js')),
        ...(await import('../limits/redis_rate_limiter.js')),
        ...(await import('../limits/redis_dpop_replay.js')),
      }
    : undefined
  const pool =
    postgres && env.DATABASE_URL
      ? postgres.openPostgresPool(env.DATABASE_URL, { name: 'sts', max: 4 })
      : undefined
  const redis =
    redisModules && env.REDIS_URL
      ? redisModules.openRedis(env.REDIS_URL, 'sts', env.REDIS_KEY_PREFIX)
      : undefined
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
      ...(env.DPOP_NONCE_SECRET
        ? {
            dpopNonces: createDpopNonces({
              secret: env.DPOP_NONCE_SECRET,
              windowSeconds: env.DPOP_NONCE_WINDOW_SECONDS,
            }),
          }
        : {}),
      ...(pool && postgres
        ? { signingKeyBackend: await postgres.createPostgresKeyBackend({ pool, name: 'sts' }) }
        : {}),
      ...(redis && redisModules
        ? {
            rateLimiter: (limit: RateLimit) =>
              redisModules.createRedisRateLimiter(limit, { redis, name: 'sts:token:ip', logger }),
            readinessChecks: { redis: () => redisModules.pingRedis(redis) },
            // A proof used at one STS instance is refused at every other (fail closed).
            dpopReplay: redisModules.createRedisDpopReplayCache({ redis, name: 'sts', logger }),
          }
        : {}),
    })
  } catch (error) {
    await release()
    throw error
  }
}
