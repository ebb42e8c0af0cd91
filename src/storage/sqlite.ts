/**
 * Opens an onbehalf SQLite database (better-sqlite3): creates the folder, WAL journal, foreign
 * keys, a busy timeout, and brings the schema up to date. The schema is versioned with
 * `PRAGMA user_version`; migrations run in order, each in its own transaction, and a database
 * newer than the code is refused rather than misread.
 *
 * @example
 * const db = openSqliteDatabase(join(env.DATA_DIR, 'app-c.sqlite'), { name: 'activity', migrations })
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'

export type SqliteDatabase = Database.Database

export interface SqliteOptions {
  /** Used in error messages ("activity database schema version 3 is newer than this code"). */
  readonly name: string
  /** Migration N brings the schema from version N to N + 1. Never edit a shipped migration. */
  readonly migrations: readonly string[]
}

function migrate(db: SqliteDatabase, { name, migrations }: SqliteOptions): void {
  const version = db.pragma('user_version', { simple: true }) as number
  if (version > migrations.length) {
    throw new Error(
      `${name} database schema version ${version} is newer than this code (${migrations.length})`,
    )
  }
  for (let next = version; next < migrations.length; next++) {
    db.transaction(() => {
      db.exec(migrations[next] as string)
      db.pragma(`user_version = ${next + 1}`)
    })()
  }
}

/** `:memory:` works for tests. */
export function openSqliteDatabase(path: string, options: SqliteOptions): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    migrate(db, options)
  } catch (error) {
    db.close()
    throw error
  }
  return db
}
