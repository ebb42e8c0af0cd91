/**
 * The signing keys of an issuer onbehalf runs (the embedded IdP, the STS), in one place for both:
 * ES256 keys whose `kid` is their RFC 7638 thumbprint, one active key that signs, and retired keys
 * whose public half stays published until every token they signed has expired
 * (`retiredAt + publishRetiredForSeconds`), then is dropped.
 *
 * The rules live here; where the keys are kept is a `SigningKeyBackend` (a file under DATA_DIR
 * today, file_key_backend.ts; a database shared by several instances later). The backend makes
 * first creation exclusive and rotation atomic across processes, and tells the store when the
 * stored keys may have changed; the store then reloads and notifies its subscribers, so a
 * rotation made by any instance or by `onbehalf keys rotate` is picked up without a restart.
 *
 * `current()` and `signer()` do no I/O: they sit on every token's path. Keys are parsed into
 * node:crypto KeyObjects once per change.
 *
 * @example
 * ```ts
 * const store = await openSigningKeyStore({
 *   backend: createFileKeyBackend({ file: 'data/idp-keys.json' }),
 *   publishRetiredForSeconds: 7200,
 *   create: 'if-missing',
 * })
 * const jwt = store.signer().sign({ typ: 'at+jwt' }, claims) // the active key, whatever it is now
 * store.subscribe((keys) => console.log('now signing with', keys.active.kid))
 * ```
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'
import { z } from 'zod'
import { createJwsSigner, type JwsSigner } from '../jws/sign_jws.js'
import type { Logger } from '../log/logger.js'

export const SIGNING_ALGORITHM = 'ES256'

export const storedSigningKeySchema = z.object({
  kid: z.string().min(1),
  alg: z.literal(SIGNING_ALGORITHM),
  /** Seconds since the epoch. */
  createdAt: z.number().int(),
  /** Seconds since the epoch; absent on the active key. */
  retiredAt: z.number().int().optional(),
  privateJwk: z.record(z.string(), z.unknown()),
})

/** A key as a backend stores it. */
export type StoredSigningKey = z.infer<typeof storedSigningKeySchema>

/** What a backend holds: the keys, and a token that changes whenever they change. */
export interface StoredKeySet {
  readonly version: string
  readonly keys: readonly StoredSigningKey[]
}

/**
 * Where signing keys are kept. Every method may be called from several processes at once: `create`
 * must be exclusive (one first key, whoever wins) and `update` atomic (no lost rotation).
 */
export interface SigningKeyBackend {
  /** For messages: "file /srv/data/idp-keys.json". */
  readonly location: string
  /** The stored keys; undefined when no key store exists here. */
  read(): Promise<StoredKeySet | undefined>
  /** A cheap check: the version `read` would return, or undefined when none exists. */
  version(): Promise<string | undefined>
  /** Stores `keys` only if no key store exists yet; false when another process created one first. */
  create(keys: readonly StoredSigningKey[]): Promise<boolean>
  /** Replaces the stored keys with `change(stored)`, one writer at a time. */
  update(change: (stored: readonly StoredSigningKey[]) => StoredSigningKey[]): Promise<StoredKeySet>
  /** Calls `onChange` when the stored keys may have changed (spurious calls are fine). */
  watch(onChange: () => void): () => void
}

type SigJwk = JsonWebKey & { kid: string; alg: string; use: 'sig' }

export interface SigningKey {
  readonly kid: string
  readonly alg: typeof SIGNING_ALGORITHM
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly privateJwk: SigJwk
  readonly publicJwk: SigJwk
  readonly createdAt: number
  readonly retiredAt?: number
}

/** One consistent view of the keys: never changes once handed out. */
export interface SigningKeySet {
  /** The key new tokens are signed with. */
  readonly active: SigningKey
  /** Every key still published: the active one first, then retired ones within their window. */
  readonly keys: readonly SigningKey[]
  publicKeyFor(kid: string): KeyObject | undefined
  /** Private JWKS for oidc-provider's `jwks` option (active key first: it signs). */
  privateJwks(): { keys: SigJwk[] }
  publicJwks(): { keys: SigJwk[] }
}

export interface SigningKeyStore {
  readonly location: string
  /** The keys this instance signs and verifies with now. No I/O. */
  current(): SigningKeySet
  /**
   * A signer that always signs with the active key of `current()`: it follows rotations, so
   * it can be created once and kept. `kid` and `alg` report the active key.
   */
  signer(): JwsSigner
  /** The published public keys, after checking the backend for a change made elsewhere. */
  publishedJwks(): Promise<{ keys: SigJwk[] }>
  /** The public key for `kid`; on a miss the backend is checked once (another instance rotated). */
  findPublicKey(kid: string): Promise<KeyObject | undefined>
  /** Checks the backend now and applies any change; resolves with the current keys. */
  sync(): Promise<SigningKeySet>
  /** Makes a new key active; the previous one is retired and stays published for its window. */
  rotate(): Promise<SigningKeySet>
  /**
   * Calls `listener` with every new key set this instance sees: its own rotation, another
   * process's, a retired key whose window ended. Called synchronously, before `current()` is read
   * by anything else. Returns the unsubscribe function.
   */
  subscribe(listener: (keys: SigningKeySet) => void): () => void
  /** Stops watching the backend. */
  close(): Promise<void>
}

export interface SigningKeyStoreOptions {
  readonly backend: SigningKeyBackend
  /** How long a retired key stays published: at least the longest lifetime of any token it signed. */
  readonly publishRetiredForSeconds: number
  /**
   * `if-missing`: the first start creates the key store (exclusively, so instances that start
   * together agree on one key). `never`: a missing key store is an error (`SigningKeyStoreError`
   * with code `key_store_missing`), as for a rotation that must find the keys the issuer uses.
   */
  readonly create: 'if-missing' | 'never'
  /** Seconds since the epoch (key creation and retirement times, publication windows). */
  readonly now?: () => number
  readonly logger?: Logger
}

export type SigningKeyStoreErrorCode = 'key_store_missing' | 'key_store_invalid' | 'key_store_busy'

export class SigningKeyStoreError extends Error {
  override name = 'SigningKeyStoreError'
  readonly code: SigningKeyStoreErrorCode
  constructor(code: SigningKeyStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** RFC 7638 thumbprint over the required EC members, in lexicographic order. */
export function thumbprintKid(jwk: JsonWebKey): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
  return createHash('sha256').update(canonical).digest('base64url')
}

export function generateStoredKey(now: number): StoredSigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const privateJwk = privateKey.export({ format: 'jwk' })
  return { kid: thumbprintKid(privateJwk), alg: SIGNING_ALGORITHM, createdAt: now, privateJwk }
}

/** Retired keys whose publication window is still open, and every unretired key. */
export function unexpired(
  stored: readonly StoredSigningKey[],
  now: number,
  publishFor: number,
): StoredSigningKey[] {
  return stored.filter((key) => key.retiredAt === undefined || key.retiredAt + publishFor > now)
}

/** The stored keys after a rotation: a new active key first, every other key retired (if not yet). */
export function rotateStoredKeys(
  stored: readonly StoredSigningKey[],
  now: number,
  publishFor: number,
): StoredSigningKey[] {
  const retired = stored.map((key) =>
    key.retiredAt === undefined ? { ...key, retiredAt: now } : key,
  )
  return [generateStoredKey(now), ...unexpired(retired, now, publishFor)]
}

function toSigningKey(stored: StoredSigningKey): SigningKey {
  const privateKey = createPrivateKey({ key: stored.privateJwk as JsonWebKey, format: 'jwk' })
  const publicKey = createPublicKey(privateKey)
  const common = { kid: stored.kid, alg: stored.alg, use: 'sig' as const }
  return Object.freeze({
    kid: stored.kid,
    alg: stored.alg,
    privateKey,
    publicKey,
    privateJwk: { ...privateKey.export({ format: 'jwk' }), ...common },
    publicJwk: { ...publicKey.export({ format: 'jwk' }), ...common },
    createdAt: stored.createdAt,
    retiredAt: stored.retiredAt,
  })
}

/**
 * Builds the key set from stored keys (`reuse`: keys already parsed, by kid). Throws a
 * `SigningKeyStoreError` when no key is active.
 */
function buildKeySet(
  stored: readonly StoredSigningKey[],
  reuse: ReadonlyMap<string, SigningKey>,
): SigningKeySet {
  const keys = stored.map((entry) => {
    const known = reuse.get(entry.kid)
    return known !== undefined && known.retiredAt === entry.retiredAt ? known : toSigningKey(entry)
  })
  const active = keys.find((key) => key.retiredAt === undefined)
  if (!active) throw new SigningKeyStoreError('key_store_invalid', 'no active signing key')
  const ordered = Object.freeze([active, ...keys.filter((key) => key !== active)])
  const byKid = new Map(ordered.map((key) => [key.kid, key.publicKey]))
  return Object.freeze({
    active,
    keys: ordered,
    publicKeyFor: (kid: string) => byKid.get(kid),
    privateJwks: () => ({ keys: ordered.map((key) => ({ ...key.privateJwk })) }),
    publicJwks: () => ({ keys: ordered.map((key) => ({ ...key.publicJwk })) }),
  })
}

/** What subscribers care about: which keys are published, and which one signs. */
function fingerprint(keys: SigningKeySet): string {
  return keys.keys.map((key) => `${key.kid}:${key.retiredAt ?? 'active'}`).join(',')
}

/** Opens (or, with `create: 'if-missing'`, creates) the key store and starts watching it. */
export async function openSigningKeyStore(
  options: SigningKeyStoreOptions,
): Promise<SigningKeyStore> {
  const { backend, publishRetiredForSeconds: publishFor, logger } = options
  if (!(Number.isInteger(publishFor) && publishFor > 0)) {
    throw new TypeError('publishRetiredForSeconds must be a positive whole number of seconds')
  }
  const clock = options.now ?? (() => Date.now() / 1000)
  const now = () => Math.floor(clock())

  let stored = await backend.read()
  if (stored === undefined) {
    if (options.create === 'never') {
      throw new SigningKeyStoreError(
        'key_store_missing',
        `no signing key store at ${backend.location}`,
      )
    }
    // Instances that start together race here: exactly one key wins, every instance uses it.
    await backend.create([generateStoredKey(now())])
    stored = await backend.read()
    if (stored === undefined) {
      throw new SigningKeyStoreError('key_store_missing', `${backend.location} vanished`)
    }
  }
  if (unexpired(stored.keys, now(), publishFor).length !== stored.keys.length) {
    stored = await backend.update((keys) => unexpired(keys, now(), publishFor))
  }

  let version = stored.version
  let storedKeys = stored.keys
  let keys = buildKeySet(unexpired(storedKeys, now(), publishFor), new Map())
  let printed = fingerprint(keys)
  /** When the next retired key leaves publication (seconds); Infinity when none is retired. */
  let nextExpiry = expiryOf(storedKeys)
  const listeners = new Set<(keys: SigningKeySet) => void>()
  let syncing: Promise<SigningKeySet> | undefined

  function expiryOf(entries: readonly StoredSigningKey[]): number {
    let soonest = Number.POSITIVE_INFINITY
    for (const entry of entries) {
      if (entry.retiredAt !== undefined) soonest = Math.min(soonest, entry.retiredAt + publishFor)
    }
    return soonest
  }

  /** Makes `next` current and tells subscribers, if anything they can see changed. */
  function apply(nextVersion: string, nextStored: readonly StoredSigningKey[]): SigningKeySet {
    const at = now()
    const reuse = new Map(keys.keys.map((key) => [key.kid, key]))
    const next = buildKeySet(unexpired(nextStored, at, publishFor), reuse)
    version = nextVersion
    storedKeys = nextStored
    nextExpiry = expiryOf(unexpired(nextStored, at, publishFor))
    const nextPrinted = fingerprint(next)
    if (nextPrinted === printed) return keys
    const previous = keys.active.kid
    keys = next
    printed = nextPrinted
    logger?.info(
      {
        event: 'signing_keys_changed',
        location: backend.location,
        activeKid: next.active.kid,
        previousActiveKid: previous,
        published: next.keys.length,
      },
      'signing keys changed',
    )
    for (const listener of listeners) {
      try {
        listener(next)
      } catch (error) {
        logger?.error({ err: error, event: 'signing_keys_listener_failed' }, 'key change listener')
      }
    }
    return next
  }

  function current(): SigningKeySet {
    // A retired key's window ends while running: drop it without waiting for a backend change.
    if (now() >= nextExpiry) apply(version, storedKeys)
    return keys
  }

  function sync(): Promise<SigningKeySet> {
    syncing ??= (async () => {
      try {
        const seen = await backend.version()
        if (seen === version) return current()
        const latest = await backend.read()
        if (latest === undefined) {
          throw new SigningKeyStoreError('key_store_missing', `${backend.location} disappeared`)
        }
        return apply(latest.version, latest.keys)
      } finally {
        syncing = undefined
      }
    })()
    return syncing
  }

  /** A change seen by the watcher: keep serving the keys we have if the new ones cannot be read. */
  function onBackendChange(): void {
    sync().catch((error: unknown) => {
      logger?.warn(
        {
          event: 'signing_keys_reload_failed',
          location: backend.location,
          reason: (error as Error).message,
        },
        'signing keys could not be reloaded; the previous keys stay in use',
      )
    })
  }

  const signers = new Map<string, JwsSigner>()
  function activeSigner(): JwsSigner {
    const { active } = current()
    let signer = signers.get(active.kid)
    if (signer === undefined) {
      signers.clear() // only the active key signs
      signer = createJwsSigner({ alg: active.alg, kid: active.kid, privateKey: active.privateKey })
      signers.set(active.kid, signer)
    }
    return signer
  }
  const followingSigner: JwsSigner = Object.freeze({
    get alg() {
      return activeSigner().alg
    },
    get kid() {
      return activeSigner().kid
    },
    sign: (header: Readonly<Record<string, unknown>>, payload: Readonly<Record<string, unknown>>) =>
      activeSigner().sign(header, payload),
  })

  const stopWatching = backend.watch(onBackendChange)

  return Object.freeze({
    location: backend.location,
    current,
    signer: () => followingSigner,
    publishedJwks: async () => (await sync()).publicJwks(),
    async findPublicKey(kid: string) {
      return current().publicKeyFor(kid) ?? (await sync()).publicKeyFor(kid)
    },
    sync,
    async rotate() {
      const rotated = await backend.update((entries) =>
        rotateStoredKeys(entries, now(), publishFor),
      )
      return apply(rotated.version, rotated.keys)
    },
    subscribe(listener: (keys: SigningKeySet) => void) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async close() {
      stopWatching()
      listeners.clear()
    },
  } satisfies SigningKeyStore)
}
