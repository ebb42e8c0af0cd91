/**
 * Opens onbehalf's PostgreSQL pool (node-postgres `pg`) and brings a component's schema up to date:
 * the PostgreSQL counterpart of sqlite.ts, used when `DATABASE_URL` is set.
 *
 * Versions live in one table, `onbehalf_schema (component, version)`; migration N brings a
 * component from version N to N + 1. Every instance migrates at start: each component migrates in
 * one transaction under a transaction-scoped advisory lock, so instances starting together apply
 * each migration exactly once, and a database newer than the code is refused rather than misread.
 *
 * A schema other than `public` is chosen the libpq way, in the URL:
 * `postgres://host/db?options=-c%20search_path%3Donbehalf` (the tests use one schema per run).
 *
 * @example
 * const pool = openPostgresPool(env.DATABASE_URL, { name: 'app-b' })
 * await migratePostgres(pool, { name: 'todo', migrations })
 */
import pg from 'pg'

export type PgPool = pg.Pool
export type PgClient = pg.PoolClient

export interface PostgresPoolOptions {
  /** `application_name`, seen in `pg_stat_activity`: which onbehalf service holds a connection. */
  readonly name: string
  /** Connections at most. Default 10. */
  readonly max?: number
}

export class PostgresSchemaError extends Error {
  static readonly code = 'ERR_SCHEMA_NEWER'
  readonly code = PostgresSchemaError.code
  override name = 'PostgresSchemaError'
}

export function openPostgresPool(url: string, options: PostgresPoolOptions): PgPool {
  const pool = new pg.Pool({
    connectionString: url,
    application_name: `onbehalf-${options.name}`,
    max: options.max ?? 10,
    // A dead server must not hang a request: fail fast, the next request gets a new connection.
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    query_timeout: 10_000,
  })
  // An idle connection that dies (server restart) is an 'error' event on the pool: without a
  // listener it would crash the process; the pool drops the connection and makes a new one.
  pool.on('error', () => {})
  return pool
}

/** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(
  pool: PgPool,
  work: (client: PgClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

export interface PostgresMigrations {
  /** The component: `idp`, `todo`, `activity`, `signing_keys`. */
  readonly name: string
  /** Migration N brings the schema from version N to N + 1. Never edit a shipped migration. */
  readonly migrations: readonly string[]
}

/** Applies the component's missing migrations; resolves with its version now. */
export async function migratePostgres(
  pool: PgPool,
  { name, migrations }: PostgresMigrations,
): Promise<number> {
  return inTransaction(pool, async (client) => {
    // The lock also serialises the CREATE TABLE below between instances starting together.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['onbehalf_schema'])
    await client.query(`CREATE TABLE IF NOT EXISTS onbehalf_schema (
      component TEXT PRIMARY KEY,
      version   INTEGER NOT NULL
    )`)
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM onbehalf_schema WHERE component = $1',
      [name],
    )
    const version = rows[0]?.version ?? 0
    if (version > migrations.length) {
      throw new PostgresSchemaError(
        `${name} database schema version ${version} is newer than this code (${migrations.length})`,
      )
    }
    for (let next = version; next < migrations.length; next++) {
      await client.query(migrations[next] as string)
    }
    await client.query(
      `INSERT INTO onbehalf_schema (component, version) VALUES ($1, $2)
       ON CONFLICT (component) DO UPDATE SET version = excluded.version`,
      [name, migrations.length],
    )
    return migrations.length
  })
}

/** True when the database answers a trivial query (readiness). */
export async function pingPostgres(pool: PgPool): Promise<void> {
  await pool.query('SELECT 1')
}
