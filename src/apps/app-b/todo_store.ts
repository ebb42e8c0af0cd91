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
  /**
   * The service that added it acting for the owner (`act.sub` of the verified token: "added by
   * Assistant on your behalf"); null when the owner added it.
   */
  readonly addedBy: string | null
  /** The service that completed it for the owner; null when open or completed by the owner. */
  readonly completedBy: string | null
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
  add(ownerSub: string, title: string, actor?: string): Promise<Todo>
  /**
   * `add` at most once per (owner, idempotency key), for `IDEMPOTENCY_KEY_TTL_SECONDS`: a retry of
   * a write that was stored but never acknowledged returns the stored todo (`replayed`; `todo` is
   * undefined when it was deleted since) instead of a duplicate. The same key with another title
   * rejects with `IdempotencyKeyReusedError`.
   */
  addOnce(
    ownerSub: string,
    title: string,
    idempotencyKey: string,
    actor?: string,
  ): Promise<AddOnceResult>
  /** Flips `completed` (by `actor` when given); undefined when the owner has no such todo. */
  toggle(ownerSub: string, id: number, actor?: string): Promise<Todo | undefined>
  /**
   * Sets `completed` (idempotent, unlike `toggle`: a retried write changes nothing more);
   * `changed` is false when it already had that state. Undefined when the owner has no such todo.
   */
  setCompleted(
    ownerSub: string,
    id: number,
    completed: boolean,
    actor?: string,
  ): Promise<{ todo: Todo; changed: boolean } | undefined>
  /** False when the owner has no such todo. */
  delete(ownerSub: string, id: number): Promise<boolean>
  /** Resolves when the store answers (readiness). */
  ping(): Promise<void>
  close(): Promise<void>
}

export const MAX_TITLE_LENGTH = 200
/** How long a key is remembered: far longer than any client retries a write. */
export const IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600
/** A client-chosen key: a UUID, or any 8–128 characters of the base64url alphabet. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_-]{8,128}$/

export interface AddOnceResult {
  readonly todo: Todo | undefined
  /** True when the key was seen before and nothing was written now. */
  readonly replayed: boolean
}

export class IdempotencyKeyReusedError extends Error {
  static readonly code = 'ERR_IDEMPOTENCY_KEY_REUSED'
  readonly code = IdempotencyKeyReusedError.code
  override name = 'IdempotencyKeyReusedError'
}

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
  // Idempotency keys of todo creation: written in the same transaction as the todo, so a stored
  // todo always has its key and a retry finds it.
  `CREATE TABLE todo_idempotency_keys (
     owner_sub TEXT NOT NULL,
     idempotency_key TEXT NOT NULL,
     todo_id INTEGER NOT NULL,
     title TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (owner_sub, idempotency_key)
   ) WITHOUT ROWID;
   CREATE INDEX todo_idempotency_keys_by_age ON todo_idempotency_keys (created_at);`,
  // Who wrote for the owner: the acting service of the token (`act.sub`), null for the owner.
  `ALTER TABLE todos ADD COLUMN added_by TEXT;
   ALTER TABLE todos ADD COLUMN completed_by TEXT;`,
]

interface TodoRow {
  id: number
  title: string
  completed: number
  created_at: string
  updated_at: string
  added_by: string | null
  completed_by: string | null
}

const COLUMNS = 'id, title, completed, created_at, updated_at, added_by, completed_by'

function toTodo(row: TodoRow): Todo {
  return {
    id: row.id,
    title: row.title,
    completed: row.completed === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    addedBy: row.added_by ?? null,
    completedBy: row.completed_by ?? null,
  }
}

/** The acting service's id, or null (the owner acts); a present actor must be a non-empty string. */
export function checkActor(actor: string | undefined): string | null {
  if (actor === undefined) return null
  if (typeof actor !== 'string' || actor.length === 0 || actor.length > 255) {
    throw new TypeError('actor must be a non-empty string of at most 255 characters')
  }
  return actor
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

/** The key, or a `TodoValidationError` unless it matches `IDEMPOTENCY_KEY_PATTERN`. */
export function checkIdempotencyKey(idempotencyKey: unknown): string {
  if (typeof idempotencyKey !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
    throw new TodoValidationError('the idempotency key must be 8 to 128 characters A-Z a-z 0-9 _ -')
  }
  return idempotencyKey
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
  const insertStmt = db.prepare<[string, string, string, string, string | null], TodoRow>(
    `INSERT INTO todos (owner_sub, title, created_at, updated_at, added_by) VALUES (?, ?, ?, ?, ?)
     RETURNING ${COLUMNS}`,
  )
  const toggleStmt = db.prepare<[string | null, string, number, string], TodoRow>(
    `UPDATE todos SET completed_by = CASE WHEN completed = 0 THEN ? ELSE NULL END,
       completed = 1 - completed, updated_at = ? WHERE id = ? AND owner_sub = ?
     RETURNING ${COLUMNS}`,
  )
  const deleteStmt = db.prepare<[number, string]>(
    `DELETE FROM todos WHERE id = ? AND owner_sub = ?`,
  )

  const add = db.transaction((ownerSub: string, title: string, actor: string | null) => {
    const at = now()
    return toTodo(insertStmt.get(ownerSub, title, at, at, actor) as TodoRow)
  })
  const epochSeconds = () => Math.floor((options.now ?? systemClock)())
  const findKeyStmt = db.prepare<[string, string, number], { todo_id: number; title: string }>(
    `SELECT todo_id, title FROM todo_idempotency_keys
     WHERE owner_sub = ? AND idempotency_key = ? AND created_at > ?`,
  )
  const forgetOldKeysStmt = db.prepare<[number]>(
    `DELETE FROM todo_idempotency_keys WHERE created_at <= ?`,
  )
  const insertKeyStmt = db.prepare<[string, string, number, string, number]>(
    `INSERT OR REPLACE INTO todo_idempotency_keys
       (owner_sub, idempotency_key, todo_id, title, created_at) VALUES (?, ?, ?, ?, ?)`,
  )
  const findTodoStmt = db.prepare<[number, string], TodoRow>(
    `SELECT ${COLUMNS} FROM todos WHERE id = ? AND owner_sub = ?`,
  )
  const addOnce = db.transaction(
    (ownerSub: string, title: string, key: string, actor: string | null): AddOnceResult => {
      const at = epochSeconds()
      const oldest = at - IDEMPOTENCY_KEY_TTL_SECONDS
      const seen = findKeyStmt.get(ownerSub, key, oldest)
      if (seen !== undefined) {
        if (seen.title !== title) {
          throw new IdempotencyKeyReusedError('this idempotency key was used for another todo')
        }
        const row = findTodoStmt.get(seen.todo_id, ownerSub)
        return { todo: row === undefined ? undefined : toTodo(row), replayed: true }
      }
      forgetOldKeysStmt.run(oldest)
      const todo = add(ownerSub, title, actor)
      insertKeyStmt.run(ownerSub, key, todo.id, title, at)
      return { todo, replayed: false }
    },
  )
  const setCompletedStmt = db.prepare<
    [number, string | null, string, number, string, number],
    TodoRow
  >(
    `UPDATE todos SET completed = ?, completed_by = ?, updated_at = ?
     WHERE id = ? AND owner_sub = ? AND completed != ?
     RETURNING ${COLUMNS}`,
  )
  const selectOneStmt = db.prepare<[number, string], TodoRow>(
    `SELECT ${COLUMNS} FROM todos WHERE id = ? AND owner_sub = ?`,
  )
  const setCompleted = db.transaction(
    (ownerSub: string, id: number, completed: boolean, actor: string | null) => {
      const value = completed ? 1 : 0
      const updated = setCompletedStmt.get(
        value,
        completed ? actor : null,
        now(),
        id,
        ownerSub,
        value,
      )
      if (updated !== undefined) return { todo: toTodo(updated), changed: true }
      const current = selectOneStmt.get(id, ownerSub)
      return current === undefined ? undefined : { todo: toTodo(current), changed: false }
    },
  )
  const toggle = db.transaction((ownerSub: string, id: number, actor: string | null) => {
    const row = toggleStmt.get(actor, now(), id, ownerSub)
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
    add: async (ownerSub, title, actor) =>
      add(checkOwner(ownerSub), parseTodoTitle(title), checkActor(actor)),
    addOnce: async (ownerSub, title, idempotencyKey, actor) =>
      addOnce(
        checkOwner(ownerSub),
        parseTodoTitle(title),
        checkIdempotencyKey(idempotencyKey),
        checkActor(actor),
      ),
    toggle: async (ownerSub, id, actor) =>
      toggle(checkOwner(ownerSub), checkId(id), checkActor(actor)),
    setCompleted: async (ownerSub, id, completed, actor) =>
      setCompleted(checkOwner(ownerSub), checkId(id), completed === true, checkActor(actor)),
    delete: async (ownerSub, id) => remove(checkOwner(ownerSub), checkId(id)),
    ping: async () => {
      db.prepare('SELECT 1').get()
    },
    close: async () => {
      if (db.open) db.close()
    },
  }
}
