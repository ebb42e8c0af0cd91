/**
 * App C's activity store on both backends (SQLite file, PostgreSQL schema): entries keep their
 * delegation chain and, when they came with a txn token, their `txn`; reads are per owner.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { openActivityStore, type ActivityStore } from '../../../src/apps/app-c/activity_store.js'
import { openPostgresActivityStore } from '../../../src/apps/app-c/activity_store_postgres.js'
import { openPostgresPool } from '../../../src/storage/postgres.js'
import { postgresUnavailable, testSchema, type TestSchema } from '../../helpers/postgres.js'

const dir = mkdtempSync(join(tmpdir(), 'app-c-store-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

const schemas: TestSchema[] = []
after(() => Promise.all(schemas.map((schema) => schema.drop())))
const noPostgres = await postgresUnavailable()

const backends: ReadonlyArray<{ name: string; open: () => Promise<ActivityStore>; skip?: string }> =
  [
    { name: 'sqlite', open: async () => openActivityStore(join(dir, `activity-${++n}.sqlite`)) },
    {
      name: 'postgres',
      skip: noPostgres,
      async open() {
        const schema = await testSchema()
        schemas.push(schema)
        return openPostgresActivityStore(openPostgresPool(schema.url, { name: 'test', max: 2 }), {
          ownsPool: true,
        })
      },
    },
  ]

for (const { name, open, skip } of backends) {
  describe(`activity store on ${name}`, { skip }, () => {
    test('recordWhenATxnIsGivenThenItIsKeptAndWithoutOneItIsNull', async () => {
      const store = await open()
      try {
        const plain = await store.record('alice', {
          action: 'todo.added',
          detail: 'buy milk',
          recordedBy: 'app-b',
          actorChain: ['app-b', 'app-a'],
        })
        const inTxn = await store.record('alice', {
          action: 'todo.completed',
          detail: 'buy milk',
          recordedBy: 'app-b',
          actorChain: ['app-b'],
          txn: 'txn-97f3c1',
        })
        assert.equal(plain.txn, null)
        assert.equal(inTxn.txn, 'txn-97f3c1')
        assert.deepEqual(plain.actorChain, ['app-b', 'app-a'])
        assert.deepEqual(await store.recent('alice'), [inTxn, plain], 'newest first, as stored')
      } finally {
        await store.close()
      }
    })

    test('recordWhenTheTxnIsTooLongThenRejectedAndNothingStored', async () => {
      const store = await open()
      try {
        await assert.rejects(
          store.record('alice', {
            action: 'todo.added',
            detail: '',
            recordedBy: 'app-b',
            actorChain: ['app-b'],
            txn: 'x'.repeat(256),
          }),
        )
        assert.deepEqual(await store.recent('alice'), [])
      } finally {
        await store.close()
      }
    })

    test('recentWhenAnotherUserAsksThenNoneOfMyEntriesAndTheLimitIsClamped', async () => {
      const store = await open()
      try {
        for (let i = 0; i < 3; i++) {
          await store.record('alice', {
            action: 'todo.added',
            detail: `item ${i}`,
            recordedBy: 'app-b',
            actorChain: ['app-b'],
          })
        }
        assert.deepEqual(await store.recent('bob'), [])
        assert.equal((await store.recent('alice', 0)).length, 1)
        assert.deepEqual(
          (await store.recent('alice', 2)).map((e) => e.detail),
          ['item 2', 'item 1'],
        )
        await assert.rejects(
          store.record('', { action: 'x', detail: '', recordedBy: 'app-b', actorChain: [] }),
          TypeError,
        )
        await store.ping()
      } finally {
        await store.close()
      }
    })
  })
}
