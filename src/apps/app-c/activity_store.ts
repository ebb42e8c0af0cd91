/**
 * App C's activity log, in SQLite: what happened to a user's data, recorded by the services that
 * act for them, with the delegation chain that was in force. Every query filters on the owner.
 */
import { openSqliteDatabase } from '../../storage/sqlite.js'
import { systemClock, type Clock } from '../../time/clock.js'

export interface ActivityEntry {
  readonly id: number
  /** e.g. `todo.added`, `todo.completed`. */
  readonly action: string
  readonly detail: string
  /** The verified caller (outermost actor) that recorded it. */
  readonly recordedBy: string
  /** Actors outermost first, as in the token App C received (e.g. `['app-b', 'app-a']`). */
  readonly actorChain: readonly string[]
  /**
   * The transaction it belongs to, when it came with a txn token (draft-ietf-oauth-transaction-
   * tokens-10 §13.2: the `txn` that makes one user action traceable across services); else null.
   */
  readonly txn: string | null
  /** ISO 8601. */
  readonly at: string
}

/** What a caller records: `txn` only when the entry came with a txn token. */
export type NewActivity = Omit<ActivityEntry, 'id' | 'at' | 'txn'> & { readonly txn?: string }

export interface ActivityStore {
  record(ownerSub: string, entry: NewActivity): ActivityEntry
  /** Newest first. */
  recent(ownerSub: string, limit?: number): ActivityEntry[]
  close(): void
}

export const ACTION_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/
export const MAX_DETAIL_LENGTH = 200

export class ActivityValidationError extends Error {
  static readonly code = 'ERR_ACTIVITY_INVALID'
  readonly code = ActivityValidationError.code
  override name = 'ActivityValidationError'
}

const MIGRATIONS = [
  `CREATE TABLE activity (
     id INTEGER PRIMARY KEY,
     owner_sub TEXT NOT NULL CHECK (length(owner_sub) > 0),
     action TEXT NOT NULL,
     detail TEXT NOT NULL CHECK (length(detail) <= ${MAX_DETAIL_LENGTH}),
     recorded_by TEXT NOT NULL,
     actor_chain TEXT NOT NULL,
     at TEXT NOT NULL
   );
   CREATE INDEX activity_by_owner ON activity (owner_sub, id);`,
  `ALTER TABLE activity ADD COLUMN txn TEXT CHECK (txn IS NULL OR length(txn) BETWEEN 1 AND 255);`,
]

interface ActivityRow {
  id: number
  action: string
  detail: string
  recorded_by: string
  actor_chain: string
  txn: string | null
  at: string
}

function toEntry(row: ActivityRow): ActivityEntry {
  return {
    id: row.id,
    action: row.action,
    detail: row.detail,
    recordedBy: row.recorded_by,
    actorChain: JSON.parse(row.actor_chain) as string[],
    txn: row.txn,
    at: row.at,
  }
}

export function parseActivity(input: unknown): { action: string; detail: string } {
  const body = (input ?? {}) as { action?: unknown; detail?: unknown }
  if (typeof body.action !== 'string' || !ACTION_PATTERN.test(body.action)) {
    throw new ActivityValidationError('action must match ' + ACTION_PATTERN.source)
  }
  const detail = body.detail === undefined ? '' : body.detail
  if (typeof detail !== 'string' || [...detail].length > MAX_DETAIL_LENGTH) {
    throw new ActivityValidationError(
      `detail must be a string of at most ${MAX_DETAIL_LENGTH} characters`,
    )
  }
  return { action: body.action, detail }
}

export function openActivityStore(path: string, options: { now?: Clock } = {}): ActivityStore {
  const db = openSqliteDatabase(path, { name: 'activity', migrations: MIGRATIONS })
  const now = () => new Date((options.now ?? systemClock)() * 1000).toISOString()
  const insert = db.prepare<
    [string, string, string, string, string, string | null, string],
    ActivityRow
  >(
    `INSERT INTO activity (owner_sub, action, detail, recorded_by, actor_chain, txn, at) VALUES (?, ?, ?, ?, ?, ?, ?)
     RETURNING id, action, detail, recorded_by, actor_chain, txn, at`,
  )
  const recent = db.prepare<[string, number], ActivityRow>(
    `SELECT id, action, detail, recorded_by, actor_chain, txn, at FROM activity WHERE owner_sub = ? ORDER BY id DESC LIMIT ?`,
  )
  const record = db.transaction((ownerSub: string, entry: NewActivity) =>
    toEntry(
      insert.get(
        ownerSub,
        entry.action,
        entry.detail,
        entry.recordedBy,
        JSON.stringify(entry.actorChain),
        entry.txn ?? null,
        now(),
      ) as ActivityRow,
    ),
  )
  return {
    record: (ownerSub, entry) => {
      if (!ownerSub) throw new TypeError('ownerSub must be a non-empty string')
      return record(ownerSub, entry)
    },
    recent: (ownerSub, limit = 20) =>
      recent.all(ownerSub, Math.min(Math.max(1, limit), 100)).map(toEntry),
    close: () => {
      if (db.open) db.close()
    },
  }
}
