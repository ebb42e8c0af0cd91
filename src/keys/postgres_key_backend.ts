/**
 * Signing keys in PostgreSQL, used when `DATABASE_URL` is set: every instance of an issuer signs
 * with the same active key and publishes the same JWKS, rotation included. One row per key set
 * (`name`: `idp`, `sts`), the keys as JSON, and a version number bumped by every change.
 *
 * - First creation is exclusive: `INSERT … ON CONFLICT DO NOTHING`, so instances starting together
 *   agree on the one key that won.
 * - A change is read-modify-write under `SELECT … FOR UPDATE` in one transaction: two instances
 *   rotating at once are serialised, and the second rotates the first's result (no lost key).
 * - Changes are announced with `NOTIFY onbehalf_signing_keys` in the same transaction (delivered
 *   on commit) to every instance that LISTENs, and each instance also polls the version
 *   (`pollIntervalMs`), so a missed notification (connection lost) is caught up.
 */
import { z } from 'zod'
import type pg from 'pg'
import { inTransaction, migratePostgres, type PgPool } from '../storage/postgres.js'
import {
  SigningKeyStoreError,
  storedSigningKeySchema,
  type SigningKeyBackend,
  type StoredKeySet,
  type StoredSigningKey,
} from './signing_key_store.js'

const CHANNEL = 'onbehalf_signing_keys'

const MIGRATIONS = [
  `CREATE TABLE signing_key_set (
     name       TEXT PRIMARY KEY,
     version    BIGINT NOT NULL,
     keys       JSONB NOT NULL,
     updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
   );`,
]

export const SIGNING_KEY_POSTGRES_MIGRATIONS = Object.freeze({
  name: 'signing_keys',
  migrations: MIGRATIONS,
})

const keysSchema = z.array(storedSigningKeySchema).min(1)

export interface PostgresKeyBackendOptions {
  readonly pool: PgPool
  /** Which key set: `idp` or `sts`. */
  readonly name: string
  /** How often the version is checked besides notifications. Default 1000. */
  readonly pollIntervalMs?: number
}

/** Migrates the key table, then returns the backend. */
export async function createPostgresKeyBackend(
  options: PostgresKeyBackendOptions,
): Promise<SigningKeyBackend> {
  const { pool, name } = options
  const pollIntervalMs = options.pollIntervalMs ?? 1000
  const location = `postgres table signing_key_set, name ${name}`
  await migratePostgres(pool, SIGNING_KEY_POSTGRES_MIGRATIONS)

  function parse(version: string, keys: unknown): StoredKeySet {
    const result = keysSchema.safeParse(keys)
    if (!result.success) {
      const issue = result.error.issues[0]!
      throw new SigningKeyStoreError(
        'key_store_invalid',
        `${location}: ${issue.path.join('.')}: ${issue.message}`,
      )
    }
    return { version, keys: result.data }
  }

  return Object.freeze({
    location,
    async read() {
      const { rows } = await pool.query<{ version: string; keys: unknown }>(
        'SELECT version, keys FROM signing_key_set WHERE name = $1',
        [name],
      )
      return rows[0] === undefined ? undefined : parse(rows[0].version, rows[0].keys)
    },
    async version() {
      const { rows } = await pool.query<{ version: string }>(
        'SELECT version FROM signing_key_set WHERE name = $1',
        [name],
      )
      return rows[0]?.version
    },
    async create(keys: readonly StoredSigningKey[]) {
      return inTransaction(pool, async (client) => {
        const result = await client.query(
          `INSERT INTO signing_key_set (name, version, keys) VALUES ($1, 1, $2)
           ON CONFLICT (name) DO NOTHING`,
          [name, JSON.stringify(keys)],
        )
        if (result.rowCount === 1) await client.query('SELECT pg_notify($1, $2)', [CHANNEL, name])
        return result.rowCount === 1
      })
    },
    update(change: (stored: readonly StoredSigningKey[]) => StoredSigningKey[]) {
      return inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ version: string; keys: unknown }>(
          'SELECT version, keys FROM signing_key_set WHERE name = $1 FOR UPDATE',
          [name],
        )
        if (rows[0] === undefined) {
          throw new SigningKeyStoreError('key_store_missing', `no signing key store at ${location}`)
        }
        const next = keysSchema.parse(change(parse(rows[0].version, rows[0].keys).keys))
        const updated = await client.query<{ version: string }>(
          `UPDATE signing_key_set SET keys = $2, version = version + 1, updated_at = now()
           WHERE name = $1 RETURNING version`,
          [name, JSON.stringify(next)],
        )
        await client.query('SELECT pg_notify($1, $2)', [CHANNEL, name])
        return { version: updated.rows[0]!.version, keys: next }
      })
    },
    watch(onChange: () => void) {
      let stopped = false
      let listener: pg.PoolClient | undefined
      const onNotification = (message: pg.Notification) => {
        if (message.channel === CHANNEL && message.payload === name) onChange()
      }
      // A dedicated connection for LISTEN; if it cannot be had or dies, polling carries on.
      void pool
        .connect()
        .then(async (client) => {
          if (stopped) return client.release()
          listener = client
          client.on('notification', onNotification)
          client.on('error', () => {
            listener = undefined
            client.release(true)
          })
          await client.query(`LISTEN ${CHANNEL}`)
        })
        .catch(() => {})
      const poll = setInterval(onChange, pollIntervalMs)
      poll.unref()
      return () => {
        stopped = true
        clearInterval(poll)
        if (listener) {
          listener.removeListener('notification', onNotification)
          listener.release(true)
          listener = undefined
        }
      }
    },
  } satisfies SigningKeyBackend)
}
