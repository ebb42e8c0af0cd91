/**
 * A PostgreSQL schema of its own for one test file: created on 127.0.0.1:5432 (database `test`,
 * trust authentication; `TEST_DATABASE_URL` overrides), dropped with everything in it afterwards.
 * `url` selects it through libpq's `options=-c search_path=…`, so code under test sees a database
 * nobody else writes to. When no server answers, `postgresUnavailable()` says why, for `test.skip`
 * — unless `ONBEHALF_REQUIRE_SERVICES=1` (set by .ci/run), where it throws: CI fails, never skips.
 *
 * @example
 * ```ts
 * const db = await testSchema()
 * after(() => db.drop())
 * const pool = openPostgresPool(db.url, { name: 'test' })
 * ```
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { servicesRequired } from './services.js'

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface TestSchema {
  readonly name: string
  /** DATABASE_URL for the code under test. */
  readonly url: string
  drop(): Promise<void>
}

/** Undefined when PostgreSQL answers; otherwise the reason, as a skip message. */
export async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({
    connectionString: TEST_DATABASE_URL,
    connectionTimeoutMillis: 2000,
  })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return servicesRequired(
      `PostgreSQL at ${TEST_DATABASE_URL} unavailable: ${(error as Error).message}`,
    )
  } finally {
    await client.end().catch(() => {})
  }
}

export async function testSchema(): Promise<TestSchema> {
  const name = `onbehalf_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await admin.connect()
  try {
    await admin.query(`CREATE SCHEMA ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(TEST_DATABASE_URL)
  url.searchParams.set('options', `-c search_path=${name}`)
  return {
    name,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
      await client.connect()
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
      } finally {
        await client.end()
      }
    },
  }
}
