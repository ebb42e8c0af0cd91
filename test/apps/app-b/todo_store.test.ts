import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import {
  IDEMPOTENCY_KEY_TTL_SECONDS,
  IdempotencyKeyReusedError,
  openTodoStore,
  TodoValidationError,
  type TodoStore,
} from '../../../src/apps/app-b/todo_store.js'
import type { Clock } from '../../../src/time/clock.js'
import { openPostgresTodoStore } from '../../../src/apps/app-b/todo_store_postgres.js'
import { openPostgresPool } from '../../../src/storage/postgres.js'
import { postgresUnavailable, testSchema, type TestSchema } from '../../helpers/postgres.js'

const dir = mkdtempSync(join(tmpdir(), 'app-b-store-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const freshPath = () => join(dir, `nested-${++n}`, 'app-b.sqlite')

const schemas: TestSchema[] = []
after(() => Promise.all(schemas.map((schema) => schema.drop())))
const noPostgres = await postgresUnavailable()

/** Both stores pass the same tests: each test gets an empty store (a new file or a new schema). */
const backends: ReadonlyArray<{
  name: string
  open: (options?: { now?: Clock }) => Promise<TodoStore>
  skip?: string
}> = [
  { name: 'sqlite', open: async (options) => openTodoStore(freshPath(), options) },
  {
    name: 'postgres',
    skip: noPostgres,
    async open(options) {
      const schema = await testSchema()
      schemas.push(schema)
      return openPostgresTodoStore(openPostgresPool(schema.url, { name: 'test', max: 4 }), {
        ...options,
        ownsPool: true,
      })
    },
  },
]

for (const { name, open, skip } of backends) {
  describe(`todo store on ${name}`, { skip }, () => {
    test('when todos are added then list and count reflect them, trimmed, oldest first', async () => {
      const store = await open()
      try {
        const a = await store.add('alice', '  buy milk  ')
        await store.add('alice', 'walk the dog')
        assert.equal(a.title, 'buy milk')
        assert.equal(a.completed, false)
        assert.ok(a.id > 0)
        assert.deepEqual(
          (await store.list('alice')).map((t) => t.title),
          ['buy milk', 'walk the dog'],
        )
        await store.toggle('alice', a.id)
        assert.deepEqual(await store.count('alice'), { total: 2, open: 1 })
        assert.deepEqual(await store.count('nobody'), { total: 0, open: 0 })
      } finally {
        await store.close()
      }
    })

    test('whenAServiceWritesForTheOwnerThenItIsRecordedAsAuthorAndClearedOnReopen', async () => {
      const store = await open()
      try {
        const own = await store.add('alice', 'mine')
        assert.equal(own.addedBy, null)
        const byAgent = await store.add('alice', 'for me', 'app-d')
        assert.deepEqual([byAgent.addedBy, byAgent.completedBy], ['app-d', null])
        const done = await store.setCompleted('alice', byAgent.id, true, 'app-d')
        assert.deepEqual([done?.todo.completed, done?.todo.completedBy], [true, 'app-d'])
        const reopened = await store.setCompleted('alice', byAgent.id, false)
        assert.equal(reopened?.todo.completedBy, null)
        assert.equal((await store.toggle('alice', own.id, 'app-d'))?.completedBy, 'app-d')
        assert.equal((await store.toggle('alice', own.id))?.completedBy, null)
        const once = await store.addOnce('alice', 'keyed', 'key-0123456789', 'app-d')
        assert.equal(once.todo?.addedBy, 'app-d')
        assert.deepEqual(
          (await store.list('alice')).map((t) => t.addedBy),
          [null, 'app-d', 'app-d'],
        )
      } finally {
        await store.close()
      }
    })

    test('when toggled twice then completed flips back', async () => {
      const store = await open()
      try {
        const { id } = await store.add('alice', 'x')
        assert.equal((await store.toggle('alice', id))?.completed, true)
        assert.equal((await store.toggle('alice', id))?.completed, false)
      } finally {
        await store.close()
      }
    })

    test('when a title is empty, blank or too long then TodoValidationError and nothing stored', async () => {
      const store = await open()
      try {
        for (const title of ['', '   ', 'x'.repeat(201), 42 as unknown as string]) {
          await assert.rejects(store.add('alice', title), TodoValidationError)
        }
        assert.equal((await store.add('alice', 'é'.repeat(200))).title.length, 200)
        assert.equal((await store.add('alice', '😀'.repeat(200))).title, '😀'.repeat(200))
        assert.equal((await store.count('alice')).total, 2)
      } finally {
        await store.close()
      }
    })

    test('when another user names my todo id then it is neither toggled, deleted nor listed', async () => {
      const store = await open()
      try {
        const mine = await store.add('alice', 'private')
        await store.add('bob', 'bob todo')
        assert.equal(await store.toggle('bob', mine.id), undefined)
        assert.equal(await store.delete('bob', mine.id), false)
        assert.deepEqual(
          (await store.list('bob')).map((t) => t.title),
          ['bob todo'],
        )
        assert.deepEqual(await store.list('alice'), [mine])
        assert.equal(await store.delete('alice', mine.id), true)
        assert.equal(await store.delete('alice', mine.id), false)
        assert.equal((await store.count('bob')).total, 1)
      } finally {
        await store.close()
      }
    })

    test('when ids are nonsense then nothing happens', async () => {
      const store = await open()
      try {
        await store.add('alice', 'x')
        for (const id of [0, -1, 1.5, Number.NaN, Number.MAX_VALUE]) {
          assert.equal(await store.toggle('alice', id), undefined)
          assert.equal(await store.delete('alice', id), false)
        }
        await assert.rejects(store.list(''), TypeError)
      } finally {
        await store.close()
      }
    })

    test('addOnceWhenTheSameKeyRepeatsThenOneTodoIsStoredAndTheRetryIsReplayed', async () => {
      const store = await open()
      try {
        const first = await store.addOnce('alice', ' pay the rent ', 'key-00000001')
        const retry = await store.addOnce('alice', 'pay the rent', 'key-00000001')
        assert.equal(first.replayed, false)
        assert.equal(first.todo?.title, 'pay the rent')
        assert.equal(retry.replayed, true)
        assert.deepEqual(retry.todo, first.todo)
        assert.equal((await store.count('alice')).total, 1, 'no duplicate')
        // Keys are per owner: bob's same key is his own todo.
        const bob = await store.addOnce('bob', 'pay the rent', 'key-00000001')
        assert.equal(bob.replayed, false)
        assert.notEqual(bob.todo?.id, first.todo?.id)
        assert.equal((await store.count('alice')).total, 1)
      } finally {
        await store.close()
      }
    })

    test('addOnceWhenTheKeyIsReusedForAnotherTitleOrMalformedThenRejectedAndNothingStored', async () => {
      const store = await open()
      try {
        await store.addOnce('alice', 'water the plants', 'key-00000002')
        await assert.rejects(
          store.addOnce('alice', 'something else', 'key-00000002'),
          IdempotencyKeyReusedError,
        )
        for (const key of ['short', 'x'.repeat(129), 'has space in it', '../../etc']) {
          await assert.rejects(store.addOnce('alice', 'bad key', key), TodoValidationError)
        }
        await assert.rejects(store.addOnce('alice', '   ', 'key-00000003'), TodoValidationError)
        assert.deepEqual(
          (await store.list('alice')).map((t) => t.title),
          ['water the plants'],
        )
      } finally {
        await store.close()
      }
    })

    test('addOnceWhenRetriesOfOneKeyRaceThenExactlyOneTodoIsStored', async () => {
      const store = await open()
      try {
        const results = await Promise.all(
          Array.from({ length: 6 }, () => store.addOnce('alice', 'once only', 'key-race-0001')),
        )
        assert.equal(results.filter((r) => !r.replayed).length, 1)
        assert.equal(new Set(results.map((r) => r.todo?.id)).size, 1)
        assert.equal((await store.count('alice')).total, 1)
      } finally {
        await store.close()
      }
    })

    test('addOnceWhenTheTodoWasDeletedOrTheKeyExpiredThenReplayedEmptyOrAddedAnew', async () => {
      let clock = 1_800_000_000
      const store = await open({ now: () => clock })
      try {
        const first = await store.addOnce('alice', 'short lived', 'key-00000004')
        assert.equal(await store.delete('alice', first.todo!.id), true)
        const replay = await store.addOnce('alice', 'short lived', 'key-00000004')
        assert.deepEqual(replay, { todo: undefined, replayed: true }, 'deleted, not re-added')
        assert.equal((await store.count('alice')).total, 0)
        clock += IDEMPOTENCY_KEY_TTL_SECONDS + 1
        const later = await store.addOnce('alice', 'short lived', 'key-00000004')
        assert.equal(later.replayed, false, 'the key was forgotten after its TTL')
        assert.equal((await store.count('alice')).total, 1)
      } finally {
        await store.close()
      }
    })

    test('setCompletedWhenRepeatedThenChangedOnlyOnceAndNeverForAnotherOwner', async () => {
      const store = await open()
      try {
        const { id } = await store.add('alice', 'call the plumber')
        const done = await store.setCompleted('alice', id, true)
        assert.equal(done?.changed, true)
        assert.equal(done?.todo.completed, true)
        const again = await store.setCompleted('alice', id, true)
        assert.equal(again?.changed, false)
        assert.equal(again?.todo.completed, true, 'a retry does not flip it back')
        assert.equal((await store.setCompleted('alice', id, false))?.changed, true)
        assert.equal(await store.setCompleted('bob', id, true), undefined)
        assert.equal(await store.setCompleted('alice', 0, true), undefined)
        assert.equal((await store.list('alice'))[0]?.completed, false, 'bob changed nothing')
      } finally {
        await store.close()
      }
    })
  })
}

describe('openTodoStore (SQLite file)', () => {
  test('when the store is reopened then todos survive and the schema is not re-run', async () => {
    const path = freshPath()
    const first = openTodoStore(path)
    const { id } = await first.add('alice', 'persist me')
    await first.toggle('alice', id)
    await first.close()

    const second = openTodoStore(path)
    try {
      const [todo] = await second.list('alice')
      assert.equal(todo?.title, 'persist me')
      assert.equal(todo?.completed, true)
    } finally {
      await second.close()
    }

    const raw = new Database(path, { readonly: true })
    try {
      assert.equal(
        raw.pragma('user_version', { simple: true }),
        3,
        'three migrations: todos, idempotency keys, acting services',
      )
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal')
    } finally {
      raw.close()
    }
  })

  test('when the database has a newer schema then opening fails', async () => {
    const path = freshPath()
    await openTodoStore(path).close()
    const raw = new Database(path)
    raw.pragma('user_version = 99')
    raw.close()
    assert.throws(() => openTodoStore(path), /newer than this code/)
  })
})
