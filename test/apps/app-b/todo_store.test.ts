import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { openTodoStore, TodoValidationError } from '../../../src/apps/app-b/todo_store.js'

const dir = mkdtempSync(join(tmpdir(), 'app-b-store-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const freshPath = () => join(dir, `nested-${++n}`, 'app-b.sqlite')

describe('openTodoStore', () => {
  test('when todos are added then list and count reflect them, trimmed, oldest first', () => {
    const store = openTodoStore(freshPath())
    try {
      const a = store.add('alice', '  buy milk  ')
      store.add('alice', 'walk the dog')
      assert.equal(a.title, 'buy milk')
      assert.equal(a.completed, false)
      assert.ok(a.id > 0)
      assert.deepEqual(
        store.list('alice').map((t) => t.title),
        ['buy milk', 'walk the dog'],
      )
      store.toggle('alice', a.id)
      assert.deepEqual(store.count('alice'), { total: 2, open: 1 })
      assert.deepEqual(store.count('nobody'), { total: 0, open: 0 })
    } finally {
      store.close()
    }
  })

  test('when toggled twice then completed flips back', () => {
    const store = openTodoStore(freshPath())
    try {
      const { id } = store.add('alice', 'x')
      assert.equal(store.toggle('alice', id)?.completed, true)
      assert.equal(store.toggle('alice', id)?.completed, false)
    } finally {
      store.close()
    }
  })

  test('when a title is empty, blank or too long then TodoValidationError and nothing stored', () => {
    const store = openTodoStore(freshPath())
    try {
      for (const title of ['', '   ', 'x'.repeat(201), 42 as unknown as string]) {
        assert.throws(() => store.add('alice', title), TodoValidationError)
      }
      assert.equal(store.add('alice', 'é'.repeat(200)).title.length, 200)
      assert.equal(store.add('alice', '😀'.repeat(200)).title, '😀'.repeat(200))
      assert.equal(store.count('alice').total, 2)
    } finally {
      store.close()
    }
  })

  test('when another user names my todo id then it is neither toggled, deleted nor listed', () => {
    const store = openTodoStore(freshPath())
    try {
      const mine = store.add('alice', 'private')
      store.add('bob', 'bob todo')
      assert.equal(store.toggle('bob', mine.id), undefined)
      assert.equal(store.delete('bob', mine.id), false)
      assert.deepEqual(
        store.list('bob').map((t) => t.title),
        ['bob todo'],
      )
      assert.deepEqual(store.list('alice'), [mine])
      assert.equal(store.delete('alice', mine.id), true)
      assert.equal(store.delete('alice', mine.id), false)
      assert.equal(store.count('bob').total, 1)
    } finally {
      store.close()
    }
  })

  test('when ids are nonsense then nothing happens', () => {
    const store = openTodoStore(freshPath())
    try {
      store.add('alice', 'x')
      for (const id of [0, -1, 1.5, Number.NaN, Number.MAX_VALUE]) {
        assert.equal(store.toggle('alice', id), undefined)
        assert.equal(store.delete('alice', id), false)
      }
      assert.throws(() => store.list(''), TypeError)
    } finally {
      store.close()
    }
  })

  test('when the store is reopened then todos survive and the schema is not re-run', () => {
    const path = freshPath()
    const first = openTodoStore(path)
    const { id } = first.add('alice', 'persist me')
    first.toggle('alice', id)
    first.close()

    const second = openTodoStore(path)
    try {
      const [todo] = second.list('alice')
      assert.equal(todo?.title, 'persist me')
      assert.equal(todo?.completed, true)
    } finally {
      second.close()
    }

    const raw = new Database(path, { readonly: true })
    try {
      assert.equal(
        raw.pragma('user_version', { simple: true }),
        2,
        'two migrations: todos, idempotency keys',
      )
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal')
    } finally {
      raw.close()
    }
  })

  test('when the database has a newer schema then opening fails', () => {
    const path = freshPath()
    openTodoStore(path).close()
    const raw = new Database(path)
    raw.pragma('user_version = 99')
    raw.close()
    assert.throws(() => openTodoStore(path), /newer than this code/)
  })
})
