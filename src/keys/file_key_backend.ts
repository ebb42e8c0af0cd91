/**
 * Signing keys in one JSON file (mode 0600, folder 0700): `{ "version": 1, "keys": [...] }`, the
 * format the IdP has always written to `${DATA_DIR}/idp-keys.json` and the STS to
 * `<keys.directory>/sts-keys.json`.
 *
 * - First creation is exclusive: the file is written aside and hard-linked into place, which
 *   fails if it exists, so instances starting together agree on one key.
 * - Every rewrite is atomic (write aside, rename over) and done under a lock file
 *   (`<file>.lock`, created with O_EXCL), so a rotation by the CLI and a prune by a starting
 *   instance never lose each other's change. A lock older than `staleLockMs` is a crashed writer's
 *   and is broken.
 * - Changes made by any process are seen through `fs.watch` on the folder (immediate where the
 *   file system reports events) and a `stat` every `pollIntervalMs` (network file systems, missed
 *   events). The version is the file's inode, size and modification time: a rename gives a new
 *   inode, so it changes with every rewrite.
 */
import {
  closeSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  watch,
  writeFileSync,
  type FSWatcher,
  type Stats,
} from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import {
  SigningKeyStoreError,
  storedSigningKeySchema,
  type SigningKeyBackend,
  type StoredKeySet,
  type StoredSigningKey,
} from './signing_key_store.js'

const keyFileSchema = z.object({
  version: z.literal(1),
  keys: z.array(storedSigningKeySchema).min(1),
})

export interface FileKeyBackendOptions {
  readonly file: string
  /** How often the file is checked besides file system events. Default 1000. */
  readonly pollIntervalMs?: number
  /** `false`: poll only (where file system events are known not to arrive). Default true. */
  readonly fileEvents?: boolean
  /** How long a writer may hold the lock before it counts as crashed. Default 10 000. */
  readonly staleLockMs?: number
  /** How long a writer waits for the lock. Default 5000. */
  readonly lockTimeoutMs?: number
}

export function createFileKeyBackend(options: FileKeyBackendOptions): SigningKeyBackend {
  const file = resolve(options.file)
  const folder = dirname(file)
  const name = basename(file)
  const lockFile = `${file}.lock`
  const pollIntervalMs = options.pollIntervalMs ?? 1000
  const staleLockMs = options.staleLockMs ?? 10_000
  const lockTimeoutMs = options.lockTimeoutMs ?? 5000
  const location = `file ${file}`

  function versionOf(stat: Stats): string {
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}`
  }

  function readNow(): StoredKeySet | undefined {
    let fd: number
    try {
      fd = openSync(file, 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    try {
      // The version of the very file read: a rename after this cannot mix two files.
      const version = versionOf(fstatSync(fd))
      const text = readFileSync(fd, 'utf8')
      return { version, keys: parse(text) }
    } finally {
      closeSync(fd)
    }
  }

  function parse(text: string): StoredSigningKey[] {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (cause) {
      throw new SigningKeyStoreError('key_store_invalid', `key file ${file} is not valid JSON`, {
        cause,
      })
    }
    const result = keyFileSchema.safeParse(parsed)
    if (!result.success) {
      const issue = result.error.issues[0]!
      throw new SigningKeyStoreError(
        'key_store_invalid',
        `key file ${file}: ${issue.path.join('.')}: ${issue.message}`,
      )
    }
    return result.data.keys
  }

  function writeAside(keys: readonly StoredSigningKey[], suffix: string): string {
    mkdirSync(folder, { recursive: true, mode: 0o700 })
    const temporary = `${file}.${process.pid}.${Date.now()}.${suffix}`
    writeFileSync(temporary, JSON.stringify({ version: 1, keys }, null, 2), { mode: 0o600 })
    return temporary
  }

  async function withLock<T>(work: () => T): Promise<T> {
    mkdirSync(folder, { recursive: true, mode: 0o700 })
    const deadline = Date.now() + lockTimeoutMs
    for (;;) {
      try {
        closeSync(openSync(lockFile, 'wx', 0o600))
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      if (lockIsStale()) {
        try {
          unlinkSync(lockFile)
        } catch {
          // another waiter broke it first
        }
        continue
      }
      if (Date.now() > deadline) {
        throw new SigningKeyStoreError(
          'key_store_busy',
          `${lockFile} is held by another writer; try again (or remove it if no onbehalf process is writing keys)`,
        )
      }
      await sleep(20)
    }
    try {
      return work()
    } finally {
      unlinkSync(lockFile)
    }
  }

  function lockIsStale(): boolean {
    try {
      return Date.now() - statSync(lockFile).mtimeMs > staleLockMs
    } catch {
      return false
    }
  }

  return Object.freeze({
    location,
    read: async () => readNow(),
    async version() {
      try {
        return versionOf(statSync(file))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw error
      }
    },
    async create(keys: readonly StoredSigningKey[]) {
      const temporary = writeAside(keys, 'new')
      try {
        linkSync(temporary, file) // atomic and exclusive: fails if the file exists
        return true
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
        throw error
      } finally {
        unlinkSync(temporary)
      }
    },
    update(change: (stored: readonly StoredSigningKey[]) => StoredSigningKey[]) {
      return withLock(() => {
        const stored = readNow()
        if (stored === undefined) {
          throw new SigningKeyStoreError('key_store_missing', `no signing key store at ${location}`)
        }
        const temporary = writeAside(change(stored.keys), 'tmp')
        renameSync(temporary, file) // atomic: readers see the old file or the new one
        return readNow()!
      })
    },
    watch(onChange: () => void) {
      let watcher: FSWatcher | undefined
      if (options.fileEvents !== false) {
        try {
          watcher = watch(folder, { persistent: false }, (_event, changed) => {
            if (changed === null || changed === name) onChange()
          })
          watcher.on('error', () => watcher?.close()) // polling carries on
        } catch {
          watcher = undefined // no events here (some file systems): polling only
        }
      }
      const poll = setInterval(onChange, pollIntervalMs)
      poll.unref()
      return () => {
        clearInterval(poll)
        watcher?.close()
      }
    },
  } satisfies SigningKeyBackend)
}
