/**
 * The IdP's signing keys: generated on first start, persisted under the data folder, each with a
 * `kid`. Rotation makes a new key active and keeps retired public keys published in the JWKS until
 * every token they signed has expired (`retiredAt + publishFor`), then drops them.
 *
 * Keys are parsed into node:crypto KeyObjects once, here, so the hot path never parses a key.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname } from 'node:path'
import { z } from 'zod'

export const SIGNING_ALGORITHM = 'ES256'

/**
 * How long a retired key stays in the JWKS: longer than the longest-living JWT the IdP signs
 * (ID tokens, 1 h; access tokens 10 min; refresh tokens are opaque).
 */
export const RETIRED_KEY_PUBLISH_SECONDS = 2 * 3600

const storedKeySchema = z.object({
  kid: z.string().min(1),
  alg: z.literal(SIGNING_ALGORITHM),
  createdAt: z.number().int(),
  retiredAt: z.number().int().optional(),
  privateJwk: z.record(z.string(), z.unknown()),
})
const keyFileSchema = z.object({ version: z.literal(1), keys: z.array(storedKeySchema).min(1) })
type StoredKey = z.infer<typeof storedKeySchema>

export interface SigningKey {
  readonly kid: string
  readonly alg: typeof SIGNING_ALGORITHM
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly privateJwk: JsonWebKey & { kid: string; alg: string; use: 'sig' }
  readonly publicJwk: JsonWebKey & { kid: string; alg: string; use: 'sig' }
  readonly createdAt: number
  readonly retiredAt?: number
}

export interface KeyStore {
  /** The key new tokens are signed with. */
  readonly active: SigningKey
  /** Every key still published: the active one first, then retired ones still within their window. */
  readonly keys: readonly SigningKey[]
  publicKeyFor(kid: string): KeyObject | undefined
  /** Private JWKS for oidc-provider's `jwks` option (active key first: it signs). */
  privateJwks(): { keys: Array<SigningKey['privateJwk']> }
  publicJwks(): { keys: Array<SigningKey['publicJwk']> }
}

export interface KeyStoreOptions {
  /** JSON file holding the private keys (mode 0600). */
  file: string
  /** How long a retired key stays in the JWKS: at least the longest lifetime of any token it signed. */
  publishRetiredForSeconds: number
  now?: () => number
}

function thumbprintKid(jwk: JsonWebKey): string {
  // RFC 7638 thumbprint over the required EC members, in lexicographic order.
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
  return createHash('sha256').update(canonical).digest('base64url')
}

function generateStoredKey(now: number): StoredKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const privateJwk = privateKey.export({ format: 'jwk' })
  return { kid: thumbprintKid(privateJwk), alg: SIGNING_ALGORITHM, createdAt: now, privateJwk }
}

function toSigningKey(stored: StoredKey): SigningKey {
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

function readKeyFile(file: string): StoredKey[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'))
  } catch (cause) {
    throw new TypeError(`key file ${file} is not valid JSON`, { cause })
  }
  const result = keyFileSchema.safeParse(parsed)
  if (!result.success) {
    const issue = result.error.issues[0]!
    throw new TypeError(`key file ${file}: ${issue.path.join('.')}: ${issue.message}`)
  }
  return result.data.keys
}

function writeKeyFile(file: string, keys: StoredKey[]): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, JSON.stringify({ version: 1, keys }, null, 2), { mode: 0o600 })
  renameSync(temporary, file) // atomic: a crash never leaves a half-written key file
}

/** Writes the file only if it does not exist yet (link is atomic and fails on EEXIST). */
function createKeyFile(file: string, keys: StoredKey[]): boolean {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const temporary = `${file}.${process.pid}.${Date.now()}.new`
  writeFileSync(temporary, JSON.stringify({ version: 1, keys }, null, 2), { mode: 0o600 })
  try {
    linkSync(temporary, file)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  } finally {
    unlinkSync(temporary)
  }
}

function buildKeyStore(stored: StoredKey[]): KeyStore {
  const keys = stored.map(toSigningKey)
  const active = keys.find((key) => key.retiredAt === undefined)
  if (!active) throw new TypeError('key file holds no active key')
  const ordered = [active, ...keys.filter((key) => key !== active)]
  const byKid = new Map(ordered.map((key) => [key.kid, key.publicKey]))
  return Object.freeze({
    active,
    keys: Object.freeze(ordered),
    publicKeyFor: (kid: string) => byKid.get(kid),
    privateJwks: () => ({ keys: ordered.map((key) => ({ ...key.privateJwk })) }),
    publicJwks: () => ({ keys: ordered.map((key) => ({ ...key.publicJwk })) }),
  })
}

/** Drops retired keys whose publication window has passed. */
function prune(stored: StoredKey[], now: number, publishFor: number): StoredKey[] {
  return stored.filter((key) => key.retiredAt === undefined || key.retiredAt + publishFor > now)
}

/** Loads the key file, creating it with a fresh key on first start, and drops expired retired keys. */
export function openKeyStore(options: KeyStoreOptions): KeyStore {
  const now = (options.now ?? (() => Math.floor(Date.now() / 1000)))()
  if (!existsSync(options.file)) {
    const stored = [generateStoredKey(now)]
    // Several instances may share the folder (the STS): only the first to create the file wins.
    if (createKeyFile(options.file, stored)) return buildKeyStore(stored)
  }
  const stored = readKeyFile(options.file)
  const kept = prune(stored, now, options.publishRetiredForSeconds)
  if (kept.length !== stored.length) writeKeyFile(options.file, kept)
  return buildKeyStore(kept)
}

/** Makes a new key active; the previous active key is retired but stays published. */
export function rotateKeys(options: KeyStoreOptions): KeyStore {
  const now = (options.now ?? (() => Math.floor(Date.now() / 1000)))()
  const stored = existsSync(options.file) ? readKeyFile(options.file) : []
  const retired = stored.map((key) =>
    key.retiredAt === undefined ? { ...key, retiredAt: now } : key,
  )
  const next = [generateStoredKey(now), ...prune(retired, now, options.publishRetiredForSeconds)]
  writeKeyFile(options.file, next)
  return buildKeyStore(next)
}
