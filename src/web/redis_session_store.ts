/**
 * Web sessions in Redis (`REDIS_URL`): every App A (or App B) instance reads and writes the same
 * sessions, so a load balancer needs no sticky sessions and a session survives a restart. One key
 * per session, `session:<app>:<id>` under the deployment's REDIS_KEY_PREFIX, holding JSON (the CSRF
 * token and the session's data); its Redis expiry is the sliding idle timeout, renewed on each
 * load (GETEX), so Redis itself forgets idle sessions.
 *
 * Redis down: loading or saving a session fails and the web UI answers with its error page until
 * Redis is back (nobody is signed in with a session nobody can read); the bearer-only service APIs
 * (`/api/`) use no session and keep working.
 */
import type { Env } from '../config/env.js'
import { openRedis, type RedisClient } from '../limits/redis.js'
import { systemClock, type Clock } from '../time/clock.js'
import { DEFAULT_SESSION_TTL_SECONDS, type SessionBackend, type SessionRecord } from './session.js'

export interface RedisSessionStoreOptions {
  readonly redis: RedisClient
  /** Which app's sessions: `app-a`, `app-b`. */
  readonly name: string
  readonly ttlSeconds: number
  readonly now?: Clock
  /** Closes the connection when the app closes. */
  readonly ownsConnection?: boolean
}

interface StoredSession {
  readonly csrfToken: string
  readonly data: ReadonlyArray<readonly [string, unknown]>
}

const SCAN_BATCH = 200
const CONNECT_WAIT_MS = 2000

export function createRedisSessionStore(options: RedisSessionStoreOptions): SessionBackend {
  const { redis, name, ttlSeconds } = options
  if (!(ttlSeconds > 0)) throw new TypeError('ttlSeconds must be a positive number')
  const now = options.now ?? systemClock
  const keyOf = (id: string) => `session:${name}:${id}`
  /** ioredis prefixes command keys, never SCAN patterns or the keys SCAN returns. */
  const prefix = redis.options.keyPrefix ?? ''

  /**
   * The connection fails commands fast while it is down (redis.ts): a session operation waits up
   * to `CONNECT_WAIT_MS` for it to come up (the first request after start, a reconnect) first.
   */
  async function connected(): Promise<void> {
    if (redis.status === 'ready') return
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        redis.off('ready', done)
        resolve()
      }
      const timer = setTimeout(done, CONNECT_WAIT_MS)
      redis.once('ready', done)
    })
  }

  function parse(id: string, json: string): SessionRecord | undefined {
    try {
      const stored = JSON.parse(json) as StoredSession
      if (typeof stored?.csrfToken !== 'string' || !Array.isArray(stored.data)) return undefined
      return {
        id,
        csrfToken: stored.csrfToken,
        data: new Map(stored.data),
        expiresAt: now() + ttlSeconds,
      }
    } catch {
      return undefined
    }
  }

  return Object.freeze({
    ttlSeconds,
    now,
    async load(id: string): Promise<SessionRecord | undefined> {
      await connected()
      const json = await redis.getex(keyOf(id), 'EX', ttlSeconds)
      return json === null ? undefined : parse(id, json)
    },
    async save(record: SessionRecord): Promise<void> {
      await connected()
      record.expiresAt = now() + ttlSeconds
      const stored: StoredSession = { csrfToken: record.csrfToken, data: [...record.data] }
      await redis.set(keyOf(record.id), JSON.stringify(stored), 'EX', ttlSeconds)
    },
    async remove(id: string): Promise<void> {
      await connected()
      await redis.del(keyOf(id))
    },
    /** A SCAN over this app's sessions (back-channel logout: rare, bounded by live sessions). */
    async removeWhere(matches: (data: ReadonlyMap<string, unknown>) => boolean): Promise<number> {
      await connected()
      let removed = 0
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(
          cursor,
          'MATCH',
          `${prefix}${keyOf('*')}`,
          'COUNT',
          SCAN_BATCH,
        )
        cursor = next
        const unprefixed = keys.map((key) => key.slice(prefix.length))
        if (unprefixed.length === 0) continue
        const values = await redis.mget(...unprefixed)
        const ending = unprefixed.filter((key, index) => {
          const json = values[index]
          const record = json === null || json === undefined ? undefined : parse(key, json)
          return record !== undefined && matches(record.data)
        })
        if (ending.length > 0) removed += await redis.del(...ending)
      } while (cursor !== '0')
      return removed
    },
    async close(): Promise<void> {
      if (options.ownsConnection) redis.disconnect()
    },
  })
}

/**
 * The session store the environment names for `app`: Redis when `REDIS_URL` is set (its own
 * connection, closed with the app), else undefined (the web kit's in-memory store).
 */
export function sessionStoreFromEnv(
  env: Pick<Env, 'REDIS_URL' | 'REDIS_KEY_PREFIX'>,
  name: string,
  now?: Clock,
): SessionBackend | undefined {
  if (env.REDIS_URL === undefined) return undefined
  return createRedisSessionStore({
    redis: openRedis(env.REDIS_URL, `${name}-sessions`, env.REDIS_KEY_PREFIX),
    name,
    ttlSeconds: DEFAULT_SESSION_TTL_SECONDS,
    ownsConnection: true,
    ...(now === undefined ? {} : { now }),
  })
}
