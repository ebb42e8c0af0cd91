import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import {
  openTodoStore,
  TodoValidationError,
  type TodoStore,
} from '../../../src/apps/app-b/todo_store.js'
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
const backends: ReadonlyArray<{ name: string; open: () => Promise<TodoStore>; skip?: string }> = [
  { name: 'sqlite', open: async () => openTodoStore(freshPath()) },
  {
    name: 'postgres',
    skip: noPostgres,
    async open() {
      const schema = await testSchema()
      schemas.push(schema)
      return openPostgresTodoStore(openPostgresPool(schema.url, { name: 'test', max: 2 }), {
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
      assert.equal(raw.pragma('user_version', { simple: true }), 1)
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
