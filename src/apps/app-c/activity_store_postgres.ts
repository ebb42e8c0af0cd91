/**
 * App C's activity log in PostgreSQL, used when `DATABASE_URL` is set (every App C instance
 * shares it). Same rules as the SQLite store (activity_store.ts): every query filters on the owner.
 */
import { migratePostgres, pingPostgres, type PgPool } from '../../storage/postgres.js'
import { systemClock, type Clock } from '../../time/clock.js'
import {
  clampLimit,
  MAX_DETAIL_LENGTH,
  type ActivityEntry,
  type ActivityStore,
} from './activity_store.js'

const MIGRATIONS = [
  `CREATE TABLE activity (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     owner_sub TEXT NOT NULL CHECK (length(owner_sub) > 0),
     action TEXT NOT NULL,
     detail TEXT NOT NULL CHECK (char_length(detail) <= ${MAX_DETAIL_LENGTH}),
     recorded_by TEXT NOT NULL,
     actor_chain JSONB NOT NULL,
     at TEXT NOT NULL
   );
   CREATE INDEX activity_by_owner ON activity (owner_sub, id);`,
  `ALTER TABLE activity ADD COLUMN txn TEXT
     CHECK (txn IS NULL OR char_length(txn) BETWEEN 1 AND 255);`,
]

export const ACTIVITY_POSTGRES_MIGRATIONS = Object.freeze({
  name: 'activity',
  migrations: MIGRATIONS,
})

interface ActivityRow {
  id: string
  action: string
  detail: string
  recorded_by: string
  actor_chain: string[]
  txn: string | null
  at: string
}

const COLUMNS = 'id, action, detail, recorded_by, actor_chain, txn, at'

function toEntry(row: ActivityRow): ActivityEntry {
  return {
    id: Number(row.id),
    action: row.action,
    detail: row.detail,
    recordedBy: row.recorded_by,
    actorChain: row.actor_chain,
    txn: row.txn,
    at: row.at,
  }
}

/** Migrates, then returns the store. `ownsPool`: `close()` ends the pool too. */
export async function openPostgresActivityStore(
  pool: PgPool,
  options: { now?: Clock; ownsPool?: boolean } = {},
): Promise<ActivityStore> {
  await migratePostgres(pool, ACTIVITY_POSTGRES_MIGRATIONS)
  const now = () => new Date((options.now ?? systemClock)() * 1000).toISOString()
  let closed = false
  return {
    async record(ownerSub, entry) {
      if (!ownerSub) throw new TypeError('ownerSub must be a non-empty string')
      const { rows } = await pool.query<ActivityRow>(
        `INSERT INTO activity (owner_sub, action, detail, recorded_by, actor_chain, txn, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
        [
          ownerSub,
          entry.action,
          entry.detail,
          entry.recordedBy,
          JSON.stringify(entry.actorChain),
          entry.txn ?? null,
          now(),
        ],
      )
      return toEntry(rows[0]!)
    },
    async recent(ownerSub, limit = 20) {
      const { rows } = await pool.query<ActivityRow>(
        `SELECT ${COLUMNS} FROM activity WHERE owner_sub = $1 ORDER BY id DESC LIMIT $2`,
        [ownerSub, clampLimit(limit)],
      )
      return rows.map(toEntry)
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
