/**
 * WAL checkpoints on their own thread (src/storage/sqlite_checkpoint.ts): a commit below the
 * threshold leaves its pages in the WAL (no checkpoint inside it), the thread copies them into the
 * database file within a few periods, and once stopped (its connection closed) nothing more is
 * checkpointed; the serving connection keeps working throughout.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { openSqliteDatabase, type SqliteDatabase } from '../../src/storage/sqlite.js'
import { checkpointWalInBackground } from '../../src/storage/sqlite_checkpoint.js'

describe('WAL checkpoints on their own thread', () => {
  let dir: string
  let file: string
  let db: SqliteDatabase

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'onbehalf-checkpoint-'))
    file = join(dir, 'test.sqlite')
    db = openSqliteDatabase(file, {
      name: 'test',
      migrations: ['CREATE TABLE row (id INTEGER PRIMARY KEY, body TEXT NOT NULL)'],
    })
    // Everything migrated so far is in the database file: only the writes below are in the WAL.
    db.pragma('wal_checkpoint(TRUNCATE)')
  })
  after(() => {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const databaseBytes = () => statSync(file).size
  /** Inserts `count` rows of 1 kB in one transaction. */
  const writeRows = (count: number) => {
    const insert = db.prepare('INSERT INTO row (body) VALUES (?)')
    db.transaction(() => {
      for (let i = 0; i < count; i++) insert.run('x'.repeat(1000))
    })()
  }

  it('whenRowsAreCommittedThenNoCheckpointRunsInTheCommitTheThreadCopiesThemAndNoneRunsOnceStopped', async () => {
    const stop = checkpointWalInBackground(db, { everyMs: 20, maxWalPages: 5000 })
    try {
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 5000)
      const empty = databaseBytes()
      writeRows(200)
      assert.equal(databaseBytes(), empty, 'still only in the WAL right after the commit')
      const deadline = Date.now() + 5000
      while (databaseBytes() === empty && Date.now() < deadline) await sleep(20)
      assert.ok(databaseBytes() > empty, 'copied into the database file by the thread')
      assert.equal(
        (db.prepare('SELECT count(*) AS n FROM row').get() as { n: number }).n,
        200,
        'the serving connection reads what it wrote',
      )
    } finally {
      await stop()
    }
    const checkpointed = databaseBytes()
    writeRows(200)
    await sleep(200)
    assert.equal(databaseBytes(), checkpointed, 'no checkpoint once stopped')
  })
})

describe('WAL checkpoints of an in-memory database', () => {
  it('whenTheDatabaseIsInMemoryThenNoThreadStartsAndStopResolves', async () => {
    const db = openSqliteDatabase(':memory:', { name: 'test', migrations: [] })
    try {
      const stop = checkpointWalInBackground(db, { everyMs: 20, maxWalPages: 100 })
      await stop()
    } finally {
      db.close()
    }
  })
})
