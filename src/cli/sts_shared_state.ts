/**
 * The STS with the shared state the environment names: its signing keys in PostgreSQL when
 * `DATABASE_URL` is set, its per-IP limit in Redis when `REDIS_URL` is set (several STS instances
 * behind a load balancer); otherwise exactly `buildSts` (key directory, in-process limit). The
 * connections opened here close with the app.
 */
import type { FastifyInstance } from 'fastify'
import type { Env } from '../config/env.js'
import { openRedis } from '../limits/redis.js'
import type { Logger } from '../log/logger.js'
import { openPostgresPool } from '../storage/postgres.js'
import { buildSts } from '../sts/app.js'
import type { StsConfig } from '../sts/config.js'

export async function buildStsWithSharedState(
  config: StsConfig,
  options: { env: Pick<Env, 'DATABASE_URL' | 'REDIS_URL' | 'REDIS_KEY_PREFIX'>; logger: Logger },
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
    return await buildSts(config, { logger, pool, redis, onClose: release })
  } catch (error) {
    await release()
    throw error
  }
}
