/**
 * App B's todo list in PostgreSQL, used when `DATABASE_URL` is set: every App B instance reads and
 * writes the same list. Same rules as the SQLite store (todo_store.ts): every statement filters on
 * the owner, titles are checked before they reach the database and again by a CHECK constraint.
 * Each write is one statement, so it is atomic on its own; an acknowledged write is committed.
 */
import { migratePostgres, pingPostgres, type PgPool } from '../../storage/postgres.js'
import { systemClock, type Clock } from '../../time/clock.js'
import {
  checkId,
  checkOwner,
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
]

export const TODO_POSTGRES_MIGRATIONS = Object.freeze({ name: 'todo', migrations: MIGRATIONS })

interface TodoRow {
  id: string
  title: string
  completed: boolean
  created_at: string
  updated_at: string
}

const COLUMNS = 'id, title, completed, created_at, updated_at'

function toTodo(row: TodoRow): Todo {
  return {
    id: Number(row.id),
    title: row.title,
    completed: row.completed,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
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
    async add(ownerSub, title) {
      const owner = checkOwner(ownerSub)
      const checked = parseTodoTitle(title)
      const at = now()
      const { rows } = await pool.query<TodoRow>(
        `INSERT INTO todos (owner_sub, title, created_at, updated_at) VALUES ($1, $2, $3, $3)
         RETURNING ${COLUMNS}`,
        [owner, checked, at],
      )
      return toTodo(rows[0]!)
    },
    async toggle(ownerSub, id) {
      const { rows } = await pool.query<TodoRow>(
        `UPDATE todos SET completed = NOT completed, updated_at = $1 WHERE id = $2 AND owner_sub = $3
         RETURNING ${COLUMNS}`,
        [now(), checkId(id), checkOwner(ownerSub)],
      )
      return rows[0] === undefined ? undefined : toTodo(rows[0])
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
