/**
 * Server-side sessions. The browser only ever holds a random 256-bit id (signed with HMAC-SHA256
 * by @fastify/cookie); everything else, including OAuth tokens, stays on the server. The default
 * store (`SessionStore`) is an in-memory Map with a sliding TTL, a periodic sweep and a maximum size
 * (least recently used sessions are evicted first): one process. With `REDIS_URL` the apps use the
 * Redis store instead (redis_session_store.ts), shared by every instance, so a load balancer needs
 * no sticky sessions. Both implement `SessionBackend`.
 */
import { randomBytes } from 'node:crypto'
import { systemClock, type Clock } from '../time/clock.js'

/** What a request handler sees as `request.session`. */
export interface Session {
  /** Opaque random id (base64url, 256 bits). */
  readonly id: string
  /** Per-session CSRF token; put it in every form as `_csrf`. */
  readonly csrfToken: string
  get<T = unknown>(key: string): T | undefined
  set(key: string, value: unknown): void
  delete(key: string): void
  /** New id and CSRF token, empty data: call it when the user logs in (stops session fixation). */
  regenerate(): void
  /** Forgets the session and clears the cookie. */
  destroy(): void
}

export interface SessionRecord {
  readonly id: string
  readonly csrfToken: string
  readonly data: Map<string, unknown>
  /** Epoch seconds. */
  expiresAt: number
}

export interface SessionStoreOptions {
  ttlSeconds: number
  maxSessions?: number
  now?: Clock
}

/** Sliding idle timeout of a web session unless the app says otherwise: 8 hours. */
export const DEFAULT_SESSION_TTL_SECONDS = 8 * 60 * 60

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

export function createSessionRecord(now: number, ttlSeconds: number): SessionRecord {
  return {
    id: randomToken(),
    csrfToken: randomToken(),
    data: new Map(),
    expiresAt: now + ttlSeconds,
  }
}

/**
 * Where sessions live. The web kit loads a session when a request arrives and saves it, once,
 * before the response leaves (so the next request, on any instance, sees it).
 */
export interface SessionBackend {
  readonly ttlSeconds: number
  readonly now: Clock
  /** A live record with its expiry slid, or undefined when unknown or expired. */
  load(id: string): SessionRecord | undefined | Promise<SessionRecord | undefined>
  save(record: SessionRecord): void | Promise<void>
  remove(id: string): void | Promise<void>
  /** Removes every live record whose data matches; how many went. */
  removeWhere(matches: (data: ReadonlyMap<string, unknown>) => boolean): number | Promise<number>
  /** Drops expired records (a store whose records do not expire by themselves). */
  sweep?(): number
  /** Releases the store's connections. */
  close?(): Promise<void>
}

export class SessionStore implements SessionBackend {
  readonly ttlSeconds: number
  readonly maxSessions: number
  readonly now: Clock
  // Map keeps insertion order; touching a record re-inserts it, so the first key is the LRU.
  readonly #records = new Map<string, SessionRecord>()

  constructor(options: SessionStoreOptions) {
    if (!(options.ttlSeconds > 0)) throw new TypeError('ttlSeconds must be a positive number')
    this.ttlSeconds = options.ttlSeconds
    this.maxSessions = options.maxSessions ?? 10_000
    this.now = options.now ?? systemClock
  }

  get size(): number {
    return this.#records.size
  }

  /** Returns a live record and slides its expiry, or undefined when unknown or expired. */
  load(id: string): SessionRecord | undefined {
    const record = this.#records.get(id)
    if (!record) return undefined
    const now = this.now()
    if (record.expiresAt <= now) {
      this.#records.delete(id)
      return undefined
    }
    record.expiresAt = now + this.ttlSeconds
    this.#records.delete(id)
    this.#records.set(id, record)
    return record
  }

  save(record: SessionRecord): void {
    record.expiresAt = this.now() + this.ttlSeconds
    this.#records.delete(record.id)
    this.#records.set(record.id, record)
    while (this.#records.size > this.maxSessions) {
      const oldest = this.#records.keys().next().value
      if (oldest === undefined) break
      this.#records.delete(oldest)
    }
  }

  remove(id: string): void {
    this.#records.delete(id)
  }

  /**
   * Removes every live record whose data matches (back-channel logout: all sessions of one IdP
   * session or one user); returns how many went. A scan: the store is bounded by `maxSessions`.
   */
  removeWhere(matches: (data: ReadonlyMap<string, unknown>) => boolean): number {
    let removed = 0
    for (const [id, record] of this.#records) {
      if (matches(record.data)) {
        this.#records.delete(id)
        removed++
      }
    }
    return removed
  }

  /** Drops expired records; returns how many went. */
  sweep(): number {
    const now = this.now()
    let removed = 0
    for (const [id, record] of this.#records) {
      if (record.expiresAt <= now) {
        this.#records.delete(id)
        removed++
      }
    }
    return removed
  }
}
