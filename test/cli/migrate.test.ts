/**
 * `onbehalf migrate`, run as an operator runs it, in its own process: on a fresh schema it applies
 * every component's migrations and exits 0 (no server: the process ends by itself); a second run
 * changes nothing; without DATABASE_URL it refuses and touches nothing.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { ACTIVITY_POSTGRES_MIGRATIONS } from '../../src/apps/app-c/activity_store_postgres.js'
import { TODO_POSTGRES_MIGRATIONS } from '../../src/apps/app-b/todo_store_postgres.js'
import { IDP_POSTGRES_MIGRATIONS } from '../../src/idp/postgres_adapter.js'
import { SIGNING_KEY_POSTGRES_MIGRATIONS } from '../../src/keys/postgres_key_backend.js'
import { postgresUnavailable, testSchema, type TestSchema } from '../helpers/postgres.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MAIN = join(ROOT, 'src/cli/main.ts')
const TSX = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href

function onbehalf(args: string[], env: Record<string, string | undefined>) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent' }
  delete childEnv.DATABASE_URL
  for (const [name, value] of Object.entries(env)) childEnv[name] = value
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX, MAIN, ...args],
      // A generous limit: the command must exit by itself, a server would keep it running.
      { cwd: ROOT, env: childEnv, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

const skip = await postgresUnavailable()

describe('onbehalf migrate', { skip }, () => {
  let schema: TestSchema
  let client: pg.Client
  before(async () => {
    schema = await testSchema()
    client = new pg.Client({ connectionString: schema.url })
    await client.connect()
  })
  after(async () => {
    await client?.end()
    await schema?.drop()
  })

  async function versions(): Promise<Record<string, number>> {
    const { rows } = await client.query<{ component: string; version: number }>(
      'SELECT component, version FROM onbehalf_schema ORDER BY component',
    )
    return Object.fromEntries(rows.map((row) => [row.component, row.version]))
  }

  const expected = Object.fromEntries(
    [
      IDP_POSTGRES_MIGRATIONS,
      SIGNING_KEY_POSTGRES_MIGRATIONS,
      TODO_POSTGRES_MIGRATIONS,
      ACTIVITY_POSTGRES_MIGRATIONS,
    ].map((component) => [component.name, component.migrations.length]),
  )

  it('WhenRunOnAFreshSchemaThenEveryComponentIsMigratedAndTheCommandExits', async () => {
    const outcome = await onbehalf(['migrate'], { DATABASE_URL: schema.url })
    assert.equal(outcome.code, 0, outcome.stderr)
    assert.deepEqual(await versions(), expected)
    for (const [name, version] of Object.entries(expected))
      assert.match(outcome.stdout, new RegExp(`^${name}: schema version ${version}$`, 'm'))
    // The tables of each component exist, in the schema the URL names, and hold no rows.
    const { rows } = await client.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
      [schema.name],
    )
    const tables = rows.map((row) => row.table_name)
    for (const table of ['onbehalf_schema', 'oidc_model', 'signing_key_set', 'todos', 'activity'])
      assert.ok(
        tables.some((name) => name.startsWith(table)),
        `${table} in ${tables.join(', ')}`,
      )
    // Migrating creates no signing key: that is the first IdP's or STS's job.
    assert.equal((await client.query('SELECT * FROM signing_key_set')).rowCount, 0)
  })

  it('WhenRunAgainThenNothingChanges', async () => {
    const outcome = await onbehalf(['migrate'], { DATABASE_URL: schema.url })
    assert.equal(outcome.code, 0, outcome.stderr)
    assert.deepEqual(await versions(), expected)
  })
})

describe('onbehalf migrate without a database', () => {
  it('WhenDatabaseUrlIsUnsetThenItRefusesWithExit2', async () => {
    const outcome = await onbehalf(['migrate'], {})
    assert.equal(outcome.code, 2)
    assert.match(outcome.stderr, /DATABASE_URL is not set/)
    assert.doesNotMatch(outcome.stdout, /schema version/)
  })

  it('WhenGivenAnArgumentThenItRefusesWithUsage', async () => {
    const outcome = await onbehalf(['migrate', '--now'], {})
    assert.equal(outcome.code, 2)
    assert.match(outcome.stderr, /unexpected argument --now/)
  })
})
