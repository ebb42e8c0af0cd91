/**
 * A `RateLimiter` that reports its refusals: `onRefused` runs each time `retryAfter` answers a
 * wait (every caller refuses the request then). For metrics, without the limits knowing of them.
 */
import type { RateLimiter } from './rate_limiter.js'

export function reportRefusals(limiter: RateLimiter, onRefused: () => void): RateLimiter {
  return Object.freeze({
    retryAfter(key: string): number | Promise<number> {
      const wait = limiter.retryAfter(key)
      if (typeof wait === 'number') {
        if (wait > 0) onRefused()
        return wait
      }
      return wait.then((seconds) => {
        if (seconds > 0) onRefused()
        return seconds
      })
    },
    hit: (key: string) => limiter.hit(key),
  })
}
