/**
 * App B's todo list, stored in SQLite (better-sqlite3). Every todo belongs to one user, named by the
 * `sub` of their token or login, and every statement filters on that owner: no method can read or
 * change another user's todo, whatever id it is given.
 *
 * Schema migrations and pragmas: src/storage/sqlite.ts. Statements are prepared once; writes run in
 * transactions.
 */
import { openSqliteDatabase } from '../../storage/sqlite.js'
import { systemClock, type Clock } from '../../time/clock.js'

export interface Todo {
  readonly id: number
  readonly title: string
  readonly completed: boolean
  /** ISO 8601. */
  readonly createdAt: string
  readonly updatedAt: string
}

export interface TodoCount {
  readonly total: number
  readonly open: number
}

/** Asynchronous: the PostgreSQL store (todo_store_postgres.ts) shares this interface. */
export interface TodoStore {
  /** The owner's todos, oldest first. */
  list(ownerSub: string): Promise<Todo[]>
  count(ownerSub: string): Promise<TodoCount>
  /** Rejects with `TodoValidationError` unless the trimmed title has 1–200 characters. */
  add(ownerSub: string, title: string): Promise<Todo>
  /** Flips `completed`; undefined when the owner has no such todo. */
  toggle(ownerSub: string, id: number): Promise<Todo | undefined>
  /** False when the owner has no such todo. */
  delete(ownerSub: string, id: number): Promise<boolean>
  /** Resolves when the store answers (readiness). */
  ping(): Promise<void>
  close(): Promise<void>
}

export const MAX_TITLE_LENGTH = 200

export class TodoValidationError extends Error {
  static readonly code = 'ERR_TODO_INVALID'
  readonly code = TodoValidationError.code
  override name = 'TodoValidationError'
}

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE todos (
     id INTEGER PRIMARY KEY,
     owner_sub TEXT NOT NULL CHECK (length(owner_sub) > 0),
     title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND ${MAX_TITLE_LENGTH}),
     completed INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX todos_by_owner ON todos (owner_sub, id);`,
]

interface TodoRow {
  id: number
  title: string
  completed: number
  created_at: string
  updated_at: string
}

const COLUMNS = 'id, title, completed, created_at, updated_at'

function toTodo(row: TodoRow): Todo {
  return {
    id: row.id,
    title: row.title,
    completed: row.completed === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

export function checkOwner(ownerSub: string): string {
  if (typeof ownerSub !== 'string' || ownerSub.length === 0) {
    throw new TypeError('ownerSub must be a non-empty string')
  }
  return ownerSub
}

export function checkId(id: number): number {
  return Number.isSafeInteger(id) && id > 0 ? id : -1
}

/** The trimmed title, or a `TodoValidationError`. Length counts characters, as SQLite does. */
export function parseTodoTitle(title: unknown): string {
  if (typeof title !== 'string') throw new TodoValidationError('title must be a string')
  const trimmed = title.trim()
  const length = [...trimmed].length
  if (length < 1 || length > MAX_TITLE_LENGTH) {
    throw new TodoValidationError(`title must have 1 to ${MAX_TITLE_LENGTH} characters`)
  }
  return trimmed
}

/**
 * Opens (creating if needed) the store at `path`, e.g. `${DATA_DIR}/app-b.sqlite`; `:memory:` works.
 *
 * @example
 * const store = openTodoStore(join(env.DATA_DIR, 'app-b.sqlite'))
 * store.add('user-alice', 'water the plants')
 */
export function openTodoStore(path: string, options: { now?: Clock } = {}): TodoStore {
  const db = openSqliteDatabase(path, { name: 'todo', migrations: MIGRATIONS })
  const now = () => new Date((options.now ?? systemClock)() * 1000).toISOString()

  const listStmt = db.prepare<[string], TodoRow>(
    `SELECT ${COLUMNS} FROM todos WHERE owner_sub = ? ORDER BY id`,
  )
  const countStmt = db.prepare<[string], { total: number; open: number }>(
    `SELECT count(*) AS total, coalesce(sum(completed = 0), 0) AS open FROM todos WHERE owner_sub = ?`,
  )
  const insertStmt = db.prepare<[string, string, string, string], TodoRow>(
    `INSERT INTO todos (owner_sub, title, created_at, updated_at) VALUES (?, ?, ?, ?)
     RETURNING ${COLUMNS}`,
  )
  const toggleStmt = db.prepare<[string, number, string], TodoRow>(
    `UPDATE todos SET completed = 1 - completed, updated_at = ? WHERE id = ? AND owner_sub = ?
     RETURNING ${COLUMNS}`,
  )
  const deleteStmt = db.prepare<[number, string]>(
    `DELETE FROM todos WHERE id = ? AND owner_sub = ?`,
  )

  const add = db.transaction((ownerSub: string, title: string) => {
    const at = now()
    return toTodo(insertStmt.get(ownerSub, title, at, at) as TodoRow)
  })
  const toggle = db.transaction((ownerSub: string, id: number) => {
    const row = toggleStmt.get(now(), id, ownerSub)
    return row === undefined ? undefined : toTodo(row)
  })
  const remove = db.transaction(
    (ownerSub: string, id: number) => deleteStmt.run(id, ownerSub).changes === 1,
  )

  return {
    list: async (ownerSub) => listStmt.all(checkOwner(ownerSub)).map(toTodo),
    count: async (ownerSub) => {
      const { total, open } = countStmt.get(checkOwner(ownerSub)) as TodoCount
      return { total, open }
    },
    add: async (ownerSub, title) => add(checkOwner(ownerSub), parseTodoTitle(title)),
    toggle: async (ownerSub, id) => toggle(checkOwner(ownerSub), checkId(id)),
    delete: async (ownerSub, id) => remove(checkOwner(ownerSub), checkId(id)),
    ping: async () => {
      db.prepare('SELECT 1').get()
    },
    close: async () => {
      if (db.open) db.close()
    },
  }
}
