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
  // A checked-out client whose server goes away (restart, failover) emits 'error' besides failing
  // its query: without a listener that would crash the process. The connection is then discarded.
  let lost: Error | undefined
  const onError = (error: Error) => (lost = error)
  client.on('error', onError)
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.removeListener('error', onError)
    client.release(lost)
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

/** SQLSTATE classes and codes that mean the server is unreachable or going away, not a bad query. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300'])
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
])
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'Client has encountered a connection error',
  'Connection terminated unexpectedly',
]

/**
 * True when `error` (or one of its causes) says PostgreSQL cannot be reached right now: connection
 * refused or lost, server shutting down or starting (57P01–57P03), too many connections, connect or
 * query timeout. Services answer such a request 503 (retry later), never 500: nothing is wrong with
 * the request, and the pool reconnects by itself once the server is back.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string') {
      if (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code)) return true
      if (code.startsWith('08')) return true
    }
    if (
      UNAVAILABLE_MESSAGES.some(
        (message) => current instanceof Error && current.message.includes(message),
      )
    ) {
      return true
    }
    current = current.cause
  }
  return false
}
