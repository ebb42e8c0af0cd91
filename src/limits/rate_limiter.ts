/**
 * Fixed-window rate limiting per key (client IP, username, client_id), in memory, bounded. Used by
 * the IdP (login form, token endpoint) and the STS (token endpoint).
 */
import { systemClock, type Clock } from '../time/clock.js'

/** At most `max` events per fixed window of `windowSeconds`, per key. */
export interface RateLimit {
  readonly max: number
  readonly windowSeconds: number
}

/** Synchronous in memory; a shared store (redis_rate_limiter.ts) answers with promises. */
export interface RateLimiter {
  /** Seconds until `key` may try again; 0 while it is under its limit. Counts nothing. */
  retryAfter(key: string): number | Promise<number>
  /** Counts one event for `key`. */
  hit(key: string): void | Promise<void>
}

/** A limiter that never limits (limits switched off). */
export const UNLIMITED: RateLimiter = Object.freeze({ retryAfter: () => 0, hit: () => {} })

/**
 * A fixed-window counter per key, in memory (one process). Bounded: beyond `maxKeys` the
 * expired windows are swept, then the oldest dropped.
 */
export function createRateLimiter(
  limit: RateLimit,
  options: { maxKeys: number; now?: Clock },
): RateLimiter {
  const now = options.now ?? systemClock
  /** `resetAt` in epoch seconds. */
  const windows = new Map<string, { count: number; resetAt: number }>()
  return Object.freeze({
    retryAfter(key: string): number {
      const window = windows.get(key)
      const at = now()
      if (window === undefined || window.resetAt <= at || window.count < limit.max) return 0
      return Math.max(1, Math.ceil(window.resetAt - at))
    },
    hit(key: string): void {
      const at = now()
      const window = windows.get(key)
      if (window !== undefined && window.resetAt > at) {
        window.count++
        return
      }
      windows.delete(key)
      if (windows.size >= options.maxKeys) {
        for (const [other, { resetAt }] of windows) if (resetAt <= at) windows.delete(other)
        if (windows.size >= options.maxKeys) windows.delete(windows.keys().next().value!)
      }
      windows.set(key, { count: 1, resetAt: at + limit.windowSeconds })
    },
  })
}
