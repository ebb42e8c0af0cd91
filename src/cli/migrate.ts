/**
 * `onbehalf migrate`: brings the PostgreSQL schema of every component up to date (the IdP's
 * oidc-provider state and issued-token records, the signing key sets of the IdP and the STS,
 * App B's todos, App C's activity) and exits, starting no server. Services migrate at start as
 * well; this applies the migrations alone, as a deployment step before new instances roll out.
 * Each component migrates in its own transaction under the schema lock (src/storage/postgres.ts),
 * so it is safe while instances run or start.
 */
import { loadDotEnv, loadEnv } from '../config/env.js'
import { ACTIVITY_POSTGRES_MIGRATIONS } from '../apps/app-c/activity_store_postgres.js'
import { TODO_POSTGRES_MIGRATIONS } from '../apps/app-b/todo_store_postgres.js'
import { IDP_POSTGRES_MIGRATIONS } from '../idp/postgres_adapter.js'
import { SIGNING_KEY_POSTGRES_MIGRATIONS } from '../keys/postgres_key_backend.js'
import { migratePostgres, openPostgresPool } from '../storage/postgres.js'

export const MIGRATE_USAGE = `usage: onbehalf migrate

Applies the PostgreSQL migrations of every component to DATABASE_URL and exits (no server starts).
Without DATABASE_URL there is nothing to migrate: the SQLite files migrate when a service opens them.`

/** Every component's migrations, in the order they are applied. */
const COMPONENTS = [
  IDP_POSTGRES_MIGRATIONS,
  SIGNING_KEY_POSTGRES_MIGRATIONS,
  TODO_POSTGRES_MIGRATIONS,
  ACTIVITY_POSTGRES_MIGRATIONS,
]

export async function runMigrate(args: readonly string[]): Promise<number> {
  if (args.length === 1 && ['--help', '-h'].includes(args[0]!)) {
    console.log(MIGRATE_USAGE)
    return 0
  }
  if (args.length > 0) {
    console.error(`onbehalf migrate: unexpected argument ${args[0]}\n\n${MIGRATE_USAGE}`)
    return 2
  }
  loadDotEnv()
  const env = loadEnv()
  if (env.DATABASE_URL === undefined) {
    console.error(
      'onbehalf migrate: DATABASE_URL is not set; the SQLite default migrates when each service opens its file',
    )
    return 2
  }
  const pool = openPostgresPool(env.DATABASE_URL, { name: 'migrate', max: 1 })
  try {
    for (const component of COMPONENTS) {
      const version = await migratePostgres(pool, component)
      console.log(`${component.name}: schema version ${version}`)
    }
  } finally {
    await pool.end()
  }
  return 0
}
