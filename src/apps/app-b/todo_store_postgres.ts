/**
 * App B's todo list in PostgreSQL, used when `DATABASE_URL` is set: every App B instance reads and
 * writes the same list. Same rules as the SQLite store (todo_store.ts): every statement filters on
 * the owner, titles are checked before they reach the database and again by a CHECK constraint.
 * Each write is one statement, atomic on its own, except `addOnce`, which writes the todo and its
 * idempotency key in one transaction; an acknowledged write is committed.
 */
import {
  inTransaction,
  migratePostgres,
  pingPostgres,
  type PgPool,
} from '../../storage/postgres.js'
import { systemClock, type Clock } from '../../time/clock.js'
import {
  checkActor,
  checkId,
  checkIdempotencyKey,
  checkOwner,
  IDEMPOTENCY_KEY_TTL_SECONDS,
  IdempotencyKeyReusedError,
  MAX_TITLE_LENGTH,
  parseTodoTitle,
  type Todo,
  type TodoStore,
} from './todo_store.js'

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE todos (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     owner_sub TEXT NOT NULL CHECK (length(owner_sub) > 0),
     title TEXT NOT NULL CHECK (char_length(title) BETWEEN 1 AND ${MAX_TITLE_LENGTH}),
     completed BOOLEAN NOT NULL DEFAULT false,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX todos_by_owner ON todos (owner_sub, id);`,
  // Idempotency keys of todo creation, as in the SQLite store: written in the same transaction as
  // the todo, so a stored todo always has its key and a retry finds it.
  `CREATE TABLE todo_idempotency_keys (
     owner_sub TEXT NOT NULL,
     idempotency_key TEXT NOT NULL,
     todo_id BIGINT NOT NULL,
     title TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     PRIMARY KEY (owner_sub, idempotency_key)
   );
   CREATE INDEX todo_idempotency_keys_by_age ON todo_idempotency_keys (created_at);`,
  // As SQLite's migration 3: who wrote for the owner (`act.sub`), null for the owner.
  `ALTER TABLE todos ADD COLUMN added_by TEXT;
   ALTER TABLE todos ADD COLUMN completed_by TEXT;`,
]

export const TODO_POSTGRES_MIGRATIONS = Object.freeze({ name: 'todo', migrations: MIGRATIONS })

interface TodoRow {
  id: string
  title: string
  completed: boolean
  created_at: string
  updated_at: string
  added_by: string | null
  completed_by: string | null
}

const COLUMNS = 'id, title, completed, created_at, updated_at, added_by, completed_by'

function toTodo(row: TodoRow): Todo {
  return {
    id: Number(row.id),
    title: row.title,
    completed: row.completed,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    addedBy: row.added_by ?? null,
    completedBy: row.completed_by ?? null,
  }
}

/**
 * Migrates, then returns the store. `ownsPool`: `close()` ends the pool too.
 *
 * @example
 * const store = await openPostgresTodoStore(openPostgresPool(env.DATABASE_URL, { name: 'app-b' }), { ownsPool: true })
 */
export async function openPostgresTodoStore(
  pool: PgPool,
  options: { now?: Clock; ownsPool?: boolean } = {},
): Promise<TodoStore> {
  await migratePostgres(pool, TODO_POSTGRES_MIGRATIONS)
  const now = () => new Date((options.now ?? systemClock)() * 1000).toISOString()
  const epochSeconds = () => Math.floor((options.now ?? systemClock)())
  let closed = false

  return {
    async list(ownerSub) {
      const { rows } = await pool.query<TodoRow>(
        `SELECT ${COLUMNS} FROM todos WHERE owner_sub = $1 ORDER BY id`,
        [checkOwner(ownerSub)],
      )
      return rows.map(toTodo)
    },
    async count(ownerSub) {
      const { rows } = await pool.query<{ total: number; open: number }>(
        `SELECT count(*)::int AS total, count(*) FILTER (WHERE NOT completed)::int AS open
         FROM todos WHERE owner_sub = $1`,
        [checkOwner(ownerSub)],
      )
      return { total: rows[0]!.total, open: rows[0]!.open }
    },
    async add(ownerSub, title, actor) {
      const owner = checkOwner(ownerSub)
      const checked = parseTodoTitle(title)
      const by = checkActor(actor)
      const at = now()
      const { rows } = await pool.query<TodoRow>(
        `INSERT INTO todos (owner_sub, title, created_at, updated_at, added_by)
         VALUES ($1, $2, $3, $3, $4) RETURNING ${COLUMNS}`,
        [owner, checked, at, by],
      )
      return toTodo(rows[0]!)
    },
    async addOnce(ownerSub, title, idempotencyKey, actor) {
      const by = checkActor(actor)
      const owner = checkOwner(ownerSub)
      const checked = parseTodoTitle(title)
      const key = checkIdempotencyKey(idempotencyKey)
      return inTransaction(pool, async (client) => {
        // Serialises concurrent retries of one key (the row may not exist yet, so no row lock):
        // the second waits, then finds the first one's key instead of adding a duplicate.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [owner, key])
        const at = epochSeconds()
        const oldest = at - IDEMPOTENCY_KEY_TTL_SECONDS
        const seen = await client.query<{ todo_id: string; title: string }>(
          `SELECT todo_id, title FROM todo_idempotency_keys
           WHERE owner_sub = $1 AND idempotency_key = $2 AND created_at > $3`,
          [owner, key, oldest],
        )
        const found = seen.rows[0]
        if (found !== undefined) {
          if (found.title !== checked) {
            throw new IdempotencyKeyReusedError('this idempotency key was used for another todo')
          }
          const { rows } = await client.query<TodoRow>(
            `SELECT ${COLUMNS} FROM todos WHERE id = $1 AND owner_sub = $2`,
            [found.todo_id, owner],
          )
          return { todo: rows[0] === undefined ? undefined : toTodo(rows[0]), replayed: true }
        }
        await client.query('DELETE FROM todo_idempotency_keys WHERE created_at <= $1', [oldest])
        const stamp = now()
        const inserted = await client.query<TodoRow>(
          `INSERT INTO todos (owner_sub, title, created_at, updated_at, added_by)
           VALUES ($1, $2, $3, $3, $4) RETURNING ${COLUMNS}`,
          [owner, checked, stamp, by],
        )
        const todo = toTodo(inserted.rows[0]!)
        await client.query(
          `INSERT INTO todo_idempotency_keys (owner_sub, idempotency_key, todo_id, title, created_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (owner_sub, idempotency_key) DO UPDATE
             SET todo_id = excluded.todo_id, title = excluded.title, created_at = excluded.created_at`,
          [owner, key, todo.id, checked, at],
        )
        return { todo, replayed: false }
      })
    },
    async toggle(ownerSub, id, actor) {
      const { rows } = await pool.query<TodoRow>(
        `UPDATE todos SET completed_by = CASE WHEN completed THEN NULL ELSE $4::text END,
           completed = NOT completed, updated_at = $1 WHERE id = $2 AND owner_sub = $3
         RETURNING ${COLUMNS}`,
        [now(), checkId(id), checkOwner(ownerSub), checkActor(actor)],
      )
      return rows[0] === undefined ? undefined : toTodo(rows[0])
    },
    async setCompleted(ownerSub, id, completed, actor) {
      const owner = checkOwner(ownerSub)
      const checkedId = checkId(id)
      const value = completed === true
      const by = checkActor(actor)
      const updated = await pool.query<TodoRow>(
        `UPDATE todos SET completed = $1, completed_by = $5, updated_at = $2
         WHERE id = $3 AND owner_sub = $4 AND completed <> $1
         RETURNING ${COLUMNS}`,
        [value, now(), checkedId, owner, value ? by : null],
      )
      if (updated.rows[0] !== undefined) return { todo: toTodo(updated.rows[0]), changed: true }
      // Not changed: either it already had that state or there is no such todo.
      const { rows } = await pool.query<TodoRow>(
        `SELECT ${COLUMNS} FROM todos WHERE id = $1 AND owner_sub = $2`,
        [checkedId, owner],
      )
      return rows[0] === undefined ? undefined : { todo: toTodo(rows[0]), changed: false }
    },
    async delete(ownerSub, id) {
      const result = await pool.query('DELETE FROM todos WHERE id = $1 AND owner_sub = $2', [
        checkId(id),
        checkOwner(ownerSub),
      ])
      return result.rowCount === 1
    },
    ping: () => pingPostgres(pool),
    async close() {
      if (options.ownsPool && !closed) {
        closed = true
        await pool.end()
      }
    },
  }
}
