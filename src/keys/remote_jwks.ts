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
 * - an unknown `kid` refetches at once (upstream rotation), but at most once per `cooldownSeconds`
 *   (so random `kid`s cannot turn the caller into a request amplifier); every fetch attempt,
 *   failed or not, starts the cooldown;
 * - when the issuer cannot be reached, cached keys keep serving for `staleIfErrorSeconds` beyond
 *   their freshness; after that `getKey` throws `JwsVerificationError('key_unavailable')`, which
 *   the STS answers with `invalid_request` (audit detail "upstream keys unavailable") and the
 *   resource kit with `temporarily_unavailable` 503.
 * Concurrent refreshes of one issuer share a single request. The cache is per process: it holds
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
import { JwsVerificationError } from '../jws/verify_jws.js'
import type { Logger } from '../log/logger.js'

export interface KeyCacheSettings {
  readonly maxAgeSeconds: number
  readonly cooldownSeconds: number
  readonly staleIfErrorSeconds: number
  readonly timeoutMs: number
}

export const DEFAULT_KEY_CACHE: KeyCacheSettings = Object.freeze({
  maxAgeSeconds: 300,
  cooldownSeconds: 30,
  staleIfErrorSeconds: 3600,
  timeoutMs: 5000,
})

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
  /** The issuer's key for `kid` usable with `alg`; undefined when it has none. */
  getKey(kid: string | undefined, alg: string): Promise<KeyObject | undefined>
  /** Fetches now (cooldown permitting); resolves whether or not the upstream answered. */
  refresh(): Promise<void>
  status(): RemoteKeyStatus
}

interface CachedKey {
  readonly kid: string | undefined
  readonly alg: string | undefined
  readonly key: KeyObject
}

const MAX_DOCUMENT_BYTES = 256 * 1024

export function createRemoteKeySet(options: RemoteKeySetOptions): RemoteKeySet {
  const issuer = options.issuer
  const issuerUrl = parseHttpUrl(issuer, 'issuer')
  if (options.jwksUri !== undefined) checkKeyUrl(options.jwksUri, issuerUrl)
  const settings: KeyCacheSettings = { ...DEFAULT_KEY_CACHE, ...options.cache }
  const doFetch = options.fetch ?? fetch
  const now = options.now ?? (() => Date.now() / 1000)
  const algorithms = new Set(options.algorithms)
  const logger = options.logger

  let keys: readonly CachedKey[] = []
  let fetchedAt: number | undefined
  let attemptedAt: number | undefined
  let jwksUri = options.jwksUri
  let inflight: Promise<void> | undefined

  const coolingDown = () =>
    attemptedAt !== undefined && now() - attemptedAt < settings.cooldownSeconds
  const age = () => (fetchedAt === undefined ? Number.POSITIVE_INFINITY : now() - fetchedAt)

  function refresh(): Promise<void> {
    if (inflight) return inflight
    if (coolingDown()) return Promise.resolve()
    attemptedAt = now()
    inflight = load()
      .then((loaded) => {
        keys = loaded
        fetchedAt = now()
      })
      .catch((error: unknown) => {
        if (options.jwksUri === undefined) jwksUri = undefined // rediscover next time
        // The event name predates the move from src/sts; log alerts may match it.
        logger?.warn(
          { event: 'upstream_keys_fetch_failed', issuer, reason: (error as Error).message },
          'upstream keys could not be fetched',
        )
      })
      .finally(() => {
        inflight = undefined
      })
    return inflight
  }

  async function load(): Promise<CachedKey[]> {
    if (jwksUri === undefined) jwksUri = await discoverJwksUri()
    const document = await getJson(jwksUri)
    if (!Array.isArray(document.keys)) throw new Error('JWKS has no keys array')
    return document.keys.flatMap((jwk: unknown) => toCachedKey(jwk))
  }

  async function discoverJwksUri(): Promise<string> {
    // OIDC Discovery §4.1: a terminating "/" of the issuer is removed before appending.
    const base = issuer.replace(/\/+$/, '')
    const metadata = await getJson(`${base}/.well-known/openid-configuration`)
    // OIDC Discovery §4.3: the document must name exactly the issuer we trust.
    if (metadata.issuer !== issuer) throw new Error('discovery names another issuer')
    if (typeof metadata.jwks_uri !== 'string') throw new Error('discovery has no jwks_uri')
    checkKeyUrl(metadata.jwks_uri, issuerUrl)
    return metadata.jwks_uri
  }

  async function getJson(url: string): Promise<Record<string, unknown>> {
    const response = await doFetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(settings.timeoutMs),
    })
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`)
    const text = await response.text()
    if (text.length > MAX_DOCUMENT_BYTES) throw new Error(`${url} is too large`)
    const value: unknown = JSON.parse(text)
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${url} is not a JSON object`)
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

  async function getKey(kid: string | undefined, alg: string): Promise<KeyObject | undefined> {
    if (!algorithms.has(alg)) return undefined
    if (age() >= settings.maxAgeSeconds) {
      if (age() <= settings.maxAgeSeconds + settings.staleIfErrorSeconds) void refresh()
      else await refresh()
    }
    if (age() > settings.maxAgeSeconds + settings.staleIfErrorSeconds) {
      throw new JwsVerificationError('key_unavailable', 'upstream keys unavailable')
    }
    const key = find(kid, alg)
    if (key !== undefined || kid === undefined) return key
    // Unknown kid: the upstream may have rotated. Joins a fetch under way; within the cooldown
    // (and with none under way) this returns at once.
    await refresh()
    return find(kid, alg)
  }

  return Object.freeze({
    issuer,
    getKey,
    refresh,
    status: () => ({
      issuer,
      keys: keys.length,
      ageSeconds: fetchedAt === undefined ? undefined : Math.max(0, now() - fetchedAt),
      usable: age() <= settings.maxAgeSeconds + settings.staleIfErrorSeconds,
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
