/**
 * The signing keys of a remote issuer, shared by the STS (its upstream IdPs) and the
 * resource-server kit (the authorization servers it trusts): OpenID Connect Discovery 1.0 §4 (or
 * RFC 8414) → `jwks_uri` → JWKS (RFC 7517), or a configured `jwksUri`, cached per issuer and parsed
 * once into node:crypto KeyObjects. Only the issuer's own JWKS is used: key URLs in token headers
 * (`jku`, `x5u`, `jwk`) are refused by the verifier (RFC 8725 §3.10).
 *
 * Cache rules, per issuer, with an injectable clock:
 * - keys are fresh for `maxAgeSeconds`; after that the next use refreshes them in the background
 *   and keeps answering from the cache meanwhile;
 * - a token whose `kid` is unknown is judged only on a fetch that *started after it arrived*: the
 *   upstream may just have rotated. Fetches start at most once per `cooldownSeconds` (so random
 *   `kid`s cannot turn the caller into a request amplifier), and a token that arrives inside that
 *   interval waits for the next fetch, shared with every other waiting token, instead of being
 *   refused. So a token with a made-up `kid`, which anybody can send, cannot make a valid token
 *   fail: the valid one is at most delayed by the interval;
 * - a fetch that fails is retried at once with a short backoff (100 ms, then 300 ms, within
 *   `timeoutMs` in all) for network errors and 5xx; a failed fetch opens no window in which later
 *   tokens are refused or fetches skipped: the next token that needs keys fetches again (interval
 *   permitting);
 * - while the keys a token needs cannot be fetched — an unknown `kid` and a failed fetch, or no
 *   usable keys at all — `getKey` throws `JwsVerificationError('key_unavailable')`: the resource
 *   kit answers 503 `temporarily_unavailable`, the STS 503 `temporarily_unavailable` (RFC 6749),
 *   never "invalid token";
 * - when the issuer cannot be reached, cached keys keep serving known `kid`s for
 *   `staleIfErrorSeconds` beyond their freshness; after that every lookup needs a fetch.
 * Concurrent fetches of one issuer are a single request. The cache is per process: it holds
 * nothing another instance would miss. A lookup of a cached key is synchronous work only (no
 * allocation, no parsing), so it can sit on every request's path.
 *
 * @example
 * ```ts
 * const keys = createRemoteKeySet({ issuer: 'https://idp.example', algorithms: ['RS256'] })
 * const key = await keys.getKey('kid-1', 'RS256')
 * ```
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { JwsVerificationError } from '../jws/verify_jws.js'
import type { Logger } from '../log/logger.js'

export interface KeyCacheSettings {
  readonly maxAgeSeconds: number
  /** Least time between the starts of two fetches; a token needing one meanwhile waits for it. */
  readonly cooldownSeconds: number
  readonly staleIfErrorSeconds: number
  /** For one fetch, its retries included. */
  readonly timeoutMs: number
}

export const DEFAULT_KEY_CACHE: KeyCacheSettings = Object.freeze({
  maxAgeSeconds: 300,
  cooldownSeconds: 1,
  staleIfErrorSeconds: 3600,
  timeoutMs: 5000,
})

/** The longest interval between fetches a cache may be configured with: a token waits that long. */
export const MAX_COOLDOWN_SECONDS = 10

/** Pauses before the second and third attempt of a failed fetch. */
const RETRY_DELAYS_MS = [100, 300] as const

export interface RemoteKeySetOptions {
  readonly issuer: string
  /** Skips discovery when set. */
  readonly jwksUri?: string
  readonly algorithms: readonly string[]
  readonly cache?: Partial<KeyCacheSettings>
  readonly fetch?: typeof fetch
  /** Seconds since the epoch. */
  readonly now?: () => number
  readonly logger?: Logger
  /** Called once per failed fetch (after its retries): for a failure counter. */
  readonly onFetchFailure?: () => void
}

export interface RemoteKeyStatus {
  readonly issuer: string
  readonly keys: number
  /** Seconds since the last successful fetch; undefined before the first. */
  readonly ageSeconds: number | undefined
  readonly usable: boolean
}

export interface RemoteKeySet {
  readonly issuer: string
  /**
   * The issuer's key for `kid` usable with `alg`; undefined when a fetch that started after this
   * call has no such key. Throws `JwsVerificationError('key_unavailable')` when the keys needed
   * cannot be fetched.
   */
  getKey(kid: string | undefined, alg: string): Promise<KeyObject | undefined>
  /** Fetches (once the interval allows); resolves whether the upstream answered. */
  refresh(): Promise<boolean>
  status(): RemoteKeyStatus
}

interface CachedKey {
  readonly kid: string | undefined
  readonly alg: string | undefined
  readonly key: KeyObject
}

/** A fetch failure; `retryable` when another attempt may succeed (network, timeout, 5xx, 429). */
class FetchFailure extends Error {
  readonly retryable: boolean
  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options)
    this.retryable = retryable
  }
}

const MAX_DOCUMENT_BYTES = 256 * 1024

export function createRemoteKeySet(options: RemoteKeySetOptions): RemoteKeySet {
  const issuer = options.issuer
  const issuerUrl = parseHttpUrl(issuer, 'issuer')
  if (options.jwksUri !== undefined) checkKeyUrl(options.jwksUri, issuerUrl)
  const settings: KeyCacheSettings = { ...DEFAULT_KEY_CACHE, ...options.cache }
  if (!(settings.cooldownSeconds >= 0 && settings.cooldownSeconds <= MAX_COOLDOWN_SECONDS)) {
    throw new TypeError(`cooldownSeconds must be from 0 to ${MAX_COOLDOWN_SECONDS}`)
  }
  const doFetch = options.fetch ?? fetch
  const now = options.now ?? (() => Date.now() / 1000)
  const algorithms = new Set(options.algorithms)
  const logger = options.logger

  let keys: readonly CachedKey[] = []
  let fetchedAt: number | undefined
  let jwksUri = options.jwksUri
  /** When the last fetch started (seconds); the interval counts from there. */
  let lastStartAt = Number.NEGATIVE_INFINITY
  /** Fetches started so far: a token records it on arrival to know which fetches are newer. */
  let startedCount = 0
  /** The fetch under way (number `startedCount`). Resolves true when it succeeded; never rejects. */
  let inflight: Promise<boolean> | undefined
  /** The number and outcome of the last fetch that finished. */
  let finished = { number: 0, ok: false }
  /** The next fetch, not started yet: shared by everyone who needs a fetch newer than `inflight`. */
  let next: Promise<boolean> | undefined

  const age = () => (fetchedAt === undefined ? Number.POSITIVE_INFINITY : now() - fetchedAt)
  const usable = () => age() <= settings.maxAgeSeconds + settings.staleIfErrorSeconds
  const intervalLeft = () => lastStartAt + settings.cooldownSeconds - now()

  function start(): Promise<boolean> {
    lastStartAt = now()
    const number = ++startedCount
    const started: Promise<boolean> = loadWithRetries().then(
      (loaded) => {
        keys = loaded
        fetchedAt = now()
        return true
      },
      (error: unknown) => {
        if (options.jwksUri === undefined) jwksUri = undefined // rediscover next time
        // The event name predates the move from src/sts; log alerts may match it.
        logger?.warn(
          { event: 'upstream_keys_fetch_failed', issuer, reason: (error as Error).message },
          'upstream keys could not be fetched',
        )
        options.onFetchFailure?.()
        return false
      },
    )
    inflight = started
    // Registered first, so whoever awaits `started` already sees it finished.
    void started.then((ok) => {
      if (inflight === started) inflight = undefined
      if (number > finished.number) finished = { number, ok }
    })
    return started
  }

  /** A fetch that started after fetch number `seen` (under way, finished, or the next one). */
  function fetchNewerThan(seen: number): Promise<boolean> {
    if (inflight !== undefined && startedCount > seen) return inflight
    if (finished.number > seen) return Promise.resolve(finished.ok)
    return fetchStartingNow()
  }

  /** A fetch that starts after this call (never one already under way), shared. */
  function fetchStartingNow(): Promise<boolean> {
    if (next !== undefined) return next
    if (inflight === undefined && intervalLeft() <= 0) return start()
    const waiting = (async () => {
      await null // always asynchronous, so `next` is set before it is cleared
      if (inflight !== undefined) await inflight
      const wait = intervalLeft()
      if (wait > 0) await sleep(Math.ceil(wait * 1000))
      next = undefined
      return start()
    })()
    next = waiting
    return waiting
  }

  function refreshInBackground(): void {
    if (inflight === undefined && next === undefined && intervalLeft() <= 0) void start()
  }

  async function loadWithRetries(): Promise<CachedKey[]> {
    const deadline = Date.now() + settings.timeoutMs
    for (let attempt = 0; ; attempt++) {
      try {
        return await load(deadline)
      } catch (error) {
        const delay = RETRY_DELAYS_MS[attempt]
        const retryable = error instanceof FetchFailure && error.retryable
        if (!retryable || delay === undefined || Date.now() + delay >= deadline) throw error
        await sleep(delay)
      }
    }
  }

  async function load(deadline: number): Promise<CachedKey[]> {
    if (jwksUri === undefined) jwksUri = await discoverJwksUri(deadline)
    const document = await getJson(jwksUri, deadline)
    if (!Array.isArray(document.keys)) throw new FetchFailure('JWKS has no keys array', false)
    return document.keys.flatMap((jwk: unknown) => toCachedKey(jwk))
  }

  async function discoverJwksUri(deadline: number): Promise<string> {
    // OIDC Discovery §4.1: a terminating "/" of the issuer is removed before appending.
    const base = issuer.replace(/\/+$/, '')
    const metadata = await getJson(`${base}/.well-known/openid-configuration`, deadline)
    // OIDC Discovery §4.3: the document must name exactly the issuer we trust.
    if (metadata.issuer !== issuer) throw new FetchFailure('discovery names another issuer', false)
    if (typeof metadata.jwks_uri !== 'string') {
      throw new FetchFailure('discovery has no jwks_uri', false)
    }
    checkKeyUrl(metadata.jwks_uri, issuerUrl)
    return metadata.jwks_uri
  }

  async function getJson(url: string, deadline: number): Promise<Record<string, unknown>> {
    let response: Response
    let text: string
    try {
      response = await doFetch(url, {
        headers: { accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
      })
      if (response.status !== 200) {
        await response.body?.cancel()
        const retryable = response.status >= 500 || response.status === 429
        throw new FetchFailure(`${url} answered ${response.status}`, retryable)
      }
      text = await response.text()
    } catch (error) {
      if (error instanceof FetchFailure) throw error
      throw new FetchFailure(`${url}: ${(error as Error).message}`, true, { cause: error })
    }
    if (text.length > MAX_DOCUMENT_BYTES) throw new FetchFailure(`${url} is too large`, false)
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new FetchFailure(`${url} is not JSON`, false)
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new FetchFailure(`${url} is not a JSON object`, false)
    }
    return value as Record<string, unknown>
  }

  function toCachedKey(jwk: unknown): CachedKey[] {
    if (typeof jwk !== 'object' || jwk === null) return []
    const record = jwk as Record<string, unknown>
    if (record.use !== undefined && record.use !== 'sig') return []
    if (record.kty === 'oct' || record.d !== undefined) return [] // never secrets or private keys
    try {
      return [
        {
          kid: typeof record.kid === 'string' ? record.kid : undefined,
          alg: typeof record.alg === 'string' ? record.alg : undefined,
          key: createPublicKey({ key: record as JsonWebKey, format: 'jwk' }),
        },
      ]
    } catch {
      return [] // a key type node cannot read is skipped, not fatal
    }
  }

  /** With a `kid`, the first key of that `kid` usable with `alg`; without, the only such key. */
  function find(kid: string | undefined, alg: string): KeyObject | undefined {
    let found: KeyObject | undefined
    for (const key of keys) {
      if (key.alg !== undefined && key.alg !== alg) continue
      if (kid !== undefined) {
        if (key.kid === kid) return key.key
      } else if (found !== undefined) {
        return undefined
      } else {
        found = key.key
      }
    }
    return found
  }

  function unavailable(): never {
    throw new JwsVerificationError('key_unavailable', 'upstream keys unavailable')
  }

  async function getKey(kid: string | undefined, alg: string): Promise<KeyObject | undefined> {
    if (!algorithms.has(alg)) return undefined
    const arrival = startedCount
    if (!usable()) {
      // Never fetched, or stale beyond the window: nothing to judge the token with until a fetch.
      if (!(await (inflight ?? fetchStartingNow())) && !usable()) unavailable()
    } else if (age() >= settings.maxAgeSeconds) {
      refreshInBackground()
    }
    let key = find(kid, alg)
    if (key !== undefined || kid === undefined) return key
    if (inflight !== undefined) {
      // A fetch under way may already bring the key (a burst of tokens after a rotation).
      await inflight
      key = find(kid, alg)
      if (key !== undefined) return key
    }
    // Unknown kid: the upstream may have rotated after our last fetch. Only a fetch that started
    // after this token arrived can tell; if it fails, we cannot tell, which is not the token's fault.
    if (!(await fetchNewerThan(arrival))) unavailable()
    return find(kid, alg)
  }

  return Object.freeze({
    issuer,
    getKey,
    refresh: fetchStartingNow,
    status: () => ({
      issuer,
      keys: keys.length,
      ageSeconds: fetchedAt === undefined ? undefined : Math.max(0, now() - fetchedAt),
      usable: usable(),
    }),
  })
}

function parseHttpUrl(value: string, name: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new TypeError(`${name} must be an absolute URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(`${name} must be an http(s) URL`)
  }
  return url
}

/** Keys of an https issuer come over https only. */
function checkKeyUrl(value: string, issuer: URL): void {
  const url = parseHttpUrl(value, 'jwks_uri')
  if (issuer.protocol === 'https:' && url.protocol !== 'https:') {
    throw new TypeError('jwks_uri of an https issuer must be https')
  }
}
