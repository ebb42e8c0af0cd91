/**
 * A DPoP replay cache (RFC 9449 §11.1) kept in Redis, so every instance of a service sees every
 * proof: a proof used at one instance is refused at the next. One `SET key 1 NX PX ttl` per proof
 * — atomic, so two instances receiving the same proof at once cannot both win — with the key
 * living exactly as long as the proof's acceptance window. Keys: `dpop:<name>:<jkt>:<jti>`, under
 * the deployment's prefix (REDIS_KEY_PREFIX, added by ioredis).
 *
 * Redis down: the documented choice is to fail closed. `firstUse` throws `DpopReplayUnavailable`
 * and the edges answer 503 `temporarily_unavailable` with `Retry-After` (not a verdict on the
 * proof or the token: the client retries). A per-instance fallback would let a captured proof be
 * replayed once at every instance for as long as the outage lasts — the one thing a shared cache
 * exists to stop — and a sender-constrained token is chosen where that matters more than
 * availability. Bearer requests, and DPoP requests at services without a shared cache, are not
 * affected. A warning is logged once per outage, and `/readyz` reports Redis.
 *
 * @example
 * ```ts
 * const replay = createRedisDpopReplayCache({ redis: openRedis(url, 'app-b', prefix), name: 'app-b' })
 * createBearerAuthenticator({ verifier, dpop: { origin, replay } })
 * ```
 */
import { createHash } from 'node:crypto'
import { DpopReplayUnavailable, type DpopReplayCache } from '../jwt/dpop_proof.js'
import type { Logger } from '../log/logger.js'
import type { EpochSeconds } from '../time/clock.js'
import type { RedisClient } from './redis.js'

export interface RedisDpopReplayCacheOptions {
  readonly redis: RedisClient
  /** Whose proofs: `app-b`, `idp`, `sts` (instances of one service share it). */
  readonly name: string
  readonly logger?: Pick<Logger, 'warn' | 'info'>
}

export function createRedisDpopReplayCache(options: RedisDpopReplayCacheOptions): DpopReplayCache {
  const { redis, name, logger } = options
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
    throw new TypeError('createRedisDpopReplayCache: name must be 1-64 letters, digits, . _ -')
  }
  let degraded = false
  return Object.freeze({
    async firstUse(
      jkt: string,
      jti: string,
      expiresAt: EpochSeconds,
      now: EpochSeconds,
    ): Promise<boolean> {
      const ttlMs = Math.max(1000, Math.ceil((expiresAt - now) * 1000))
      // The jti is the client's string: hashed, so the key stays short and plain.
      const id = createHash('sha256').update(jti).digest('base64url')
      let answer: string | null
      try {
        answer = await redis.set(`dpop:${name}:${jkt}:${id}`, '1', 'PX', ttlMs, 'NX')
      } catch (cause) {
        if (!degraded) {
          degraded = true
          logger?.warn(
            { event: 'dpop_replay_unavailable', cache: name },
            'Redis unavailable: DPoP proofs refused (503) until it answers',
          )
        }
        throw new DpopReplayUnavailable('the shared DPoP replay cache cannot be reached', {
          cause,
        })
      }
      if (degraded) {
        degraded = false
        logger?.info(
          { event: 'dpop_replay_restored', cache: name },
          'DPoP replay cache shared again',
        )
      }
      return answer === 'OK'
    },
  })
}
