/**
 * A cache for tokens obtained by RFC 8693 token exchange, so a page view does not cost a round
 * trip to the token endpoint every time.
 *
 * - Key: SHA-256 of the subject token (the token itself is never kept as a key), the audience and
 *   the requested scope. A different user token or target never shares an entry.
 * - Lifetime: an entry is served until `expiresAt - skew`, where skew is `refreshSkewSeconds`
 *   (default 30 s) or half the token's lifetime, whichever is smaller, so a token handed out still
 *   has time to reach the resource server.
 * - Bounded: least recently used entries go first once `maxEntries` is reached.
 * - Single flight: concurrent misses for one key share one exchange; failures are not cached.
 *
 * @example
 * const cache = new ExchangedTokenCache({ maxEntries: 500 })
 * const client = createTokenExchangeClient({ tokenEndpoint, clientId, clientSecret, cache })
 */
import { createHash } from 'node:crypto'
import { systemClock, type Clock } from '../time/clock.js'

export interface CachedToken {
  accessToken: string
  issuedTokenType: string
  tokenType: string
  /** Epoch seconds. */
  expiresAt: number
  scope: string | undefined
  claims: Record<string, unknown> | undefined
  /**
   * When the token endpoint issued this token (epoch seconds) and how long that round trip took, so a
   * caller served from the cache can still tell how old the token is and what the exchange cost.
   */
  exchange?: { at: number; durationMs: number }
  /** RFC 9449: thumbprint of the DPoP key the token is bound to; absent for a bearer token. */
  jkt?: string
}

export interface ExchangedTokenCacheOptions {
  /** Default 1000. */
  maxEntries?: number
  /** Default 30. */
  refreshSkewSeconds?: number
  now?: Clock
}

interface Entry {
  value: CachedToken
  freshUntil: number
}

export class ExchangedTokenCache {
  readonly maxEntries: number
  readonly refreshSkewSeconds: number
  readonly now: Clock
  readonly #entries = new Map<string, Entry>()
  readonly #inflight = new Map<string, Promise<CachedToken>>()

  constructor(options: ExchangedTokenCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? 1000
    const skew = options.refreshSkewSeconds ?? 30
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new TypeError('maxEntries must be a positive integer')
    if (!(skew >= 0)) throw new TypeError('refreshSkewSeconds must be >= 0')
    this.maxEntries = maxEntries
    this.refreshSkewSeconds = skew
    this.now = options.now ?? systemClock
  }

  /** Cache key for one (subject token, audience, scope) triple. */
  /** `jkt`: the DPoP key a bound token is wanted for, so a rotated key gets a token of its own. */
  static key(subjectToken: string, audience: string, scope?: string, jkt?: string): string {
    const digest = createHash('sha256').update(subjectToken).digest('base64url')
    const normalisedScope = (scope ?? '').split(' ').filter(Boolean).sort().join(' ')
    return JSON.stringify(
      jkt === undefined
        ? [digest, audience, normalisedScope]
        : [digest, audience, normalisedScope, jkt],
    )
  }

  get size(): number {
    return this.#entries.size
  }

  /** A fresh entry, or undefined (stale entries are dropped). */
  get(key: string): CachedToken | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (entry.freshUntil <= this.now()) {
      this.#entries.delete(key)
      return undefined
    }
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry.value
  }

  set(key: string, value: CachedToken): void {
    const now = this.now()
    const lifetime = value.expiresAt - now
    const skew = Math.min(this.refreshSkewSeconds, lifetime / 2)
    const freshUntil = value.expiresAt - skew
    this.#entries.delete(key)
    if (freshUntil <= now) return // too short-lived to be worth keeping
    this.#entries.set(key, { value, freshUntil })
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value
      if (oldest === undefined) break
      this.#entries.delete(oldest)
    }
  }

  delete(key: string): void {
    this.#entries.delete(key)
  }

  clear(): void {
    this.#entries.clear()
  }

  /**
   * Returns the cached token, or runs `produce` (once for all concurrent callers of the same key)
   * and caches its result. `source` says whether this caller caused the exchange.
   */
  async getOrProduce(
    key: string,
    produce: () => Promise<CachedToken>,
  ): Promise<{ value: CachedToken; source: 'cache' | 'exchange' | 'shared' }> {
    const cached = this.get(key)
    if (cached) return { value: cached, source: 'cache' }
    const running = this.#inflight.get(key)
    if (running) return { value: await running, source: 'shared' }
    const promise = produce()
      .then((value) => {
        this.set(key, value)
        return value
      })
      .finally(() => this.#inflight.delete(key))
    this.#inflight.set(key, promise)
    return { value: await promise, source: 'exchange' }
  }
}
