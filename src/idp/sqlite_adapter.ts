/**
 * oidc-provider storage adapter on SQLite (better-sqlite3, WAL): sessions, grants, interactions,
 * codes and refresh tokens survive an IdP restart. One table for every model; expired rows are
 * ignored on read and swept periodically.
 *
 * Also holds onbehalf's own record of issued JWT access tokens, see issued_tokens.ts: a table of
 * its own, `issued_token`, one narrow row per token (columns, no JSON payload).
 *
 * Group commit: `upsert` and the issued-token inserts queue their row and resolve once the
 * transaction holding it has committed; the queue is written in one transaction per turn of the
 * event loop (setImmediate). Every exchange writes one issued-token row, and one autocommitted
 * insert cost ≈ 50 µs of CPU where a batch costs a fraction of that per row (docs/performance.md).
 * Durability is unchanged for callers: a promise resolves only after its row is committed to the
 * WAL (synchronous = NORMAL: a process crash loses nothing committed), and the IdP answers with a
 * token only after its record resolved, so no client ever holds a token whose record is not
 * stored. Order is unchanged too: every other write (consume, destroy, revokeByGrantId, delete,
 * sweep) and any read that could see a queued row (find of a queued id, findLive of a queued token
 * or while a grant is queued, any findByUid or findByUserCode while rows are queued) first commits
 * the queue, synchronously. A batch that fails is retried row by row, so only the faulty row's
 * caller sees the error.
 */
import { openSqliteDatabase } from '../storage/sqlite.js'
import { checkpointWalInBackground } from '../storage/sqlite_checkpoint.js'

import {
  ParentTokenNotFound,
  toDelegation,
  toIssuedToken,
  type IssuedTokenColumns,
  type DelegationRow,
  type IssuedTokenRow,
  type OidcAdapter,
  type OidcStorage,
  type Payload,
} from './oidc_storage.js'

export type { OidcAdapter, OidcStorage }

const MIGRATIONS = [
  `CREATE TABLE oidc_model (
     model       TEXT NOT NULL,
     id          TEXT NOT NULL,
     payload     TEXT NOT NULL,
     grant_id    TEXT,
     user_code   TEXT,
     uid         TEXT,
     expires_at  INTEGER,
     consumed_at INTEGER,
     PRIMARY KEY (model, id)
   );
   CREATE INDEX oidc_model_grant ON oidc_model (grant_id);
   CREATE INDEX oidc_model_uid ON oidc_model (model, uid);
   CREATE INDEX oidc_model_user_code ON oidc_model (model, user_code);
   CREATE INDEX oidc_model_expires ON oidc_model (expires_at);`,
  // Only interactions carry a uid and only device codes a user code: rows without one stay out of
  // those indexes, so an issued token (one row per exchange) updates two indexes fewer. Lookups
  // (`uid = ?`, `user_code = ?`) imply NOT NULL, so SQLite still uses them.
  `DROP INDEX oidc_model_uid;
   DROP INDEX oidc_model_user_code;
   CREATE INDEX oidc_model_uid ON oidc_model (model, uid) WHERE uid IS NOT NULL;
   CREATE INDEX oidc_model_user_code ON oidc_model (model, user_code) WHERE user_code IS NOT NULL;`,
  // Users' delegations to agents (delegations.ts): one row per consent, tied to its grant.
  `CREATE TABLE delegation (
     id         TEXT PRIMARY KEY,
     sub        TEXT NOT NULL,
     client_id  TEXT NOT NULL,
     audience   TEXT NOT NULL,
     scopes     TEXT NOT NULL,
     grant_id   TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX delegation_by_sub ON delegation (sub, created_at);
   CREATE INDEX delegation_expires ON delegation (expires_at);`,
  // Issued-token records (issued_tokens.ts) move out of oidc_model into a table of their own:
  // columns, no JSON, no model prefix in the key. A record's grant and expiry index only rows that
  // have one. Records written by earlier versions move over, so their tokens stay active.
  // A rowid table, not WITHOUT ROWID: jti is random, so a table clustered on it inserts every
  // ~150-byte row at a random leaf (and its indexes carry the 36-byte jti instead of a rowid);
  // appended by rowid, only the narrow jti index takes the random insert. Measured with
  // bench/idp_storage.ts at 200k records: 57–59 µs per exchange against 68–70 µs WITHOUT ROWID.
  `CREATE TABLE issued_token (
     jti        TEXT NOT NULL PRIMARY KEY,
     grant_id   TEXT,
     parent_jti TEXT,
     client_id  TEXT NOT NULL,
     sub        TEXT,
     expires_at INTEGER
   );
   CREATE INDEX issued_token_grant ON issued_token (grant_id) WHERE grant_id IS NOT NULL;
   CREATE INDEX issued_token_expires ON issued_token (expires_at) WHERE expires_at IS NOT NULL;
   INSERT INTO issued_token (jti, grant_id, parent_jti, client_id, sub, expires_at)
     SELECT id, grant_id, json_extract(payload, '$.parentJti'),
       coalesce(json_extract(payload, '$.clientId'), ''), json_extract(payload, '$.sub'), expires_at
     FROM oidc_model WHERE model = 'IssuedAccessToken';
   DELETE FROM oidc_model WHERE model = 'IssuedAccessToken';`,
]

/** The IdP database's schema history (migration N brings version N to N + 1). */
export const IDP_SQLITE_MIGRATIONS: readonly string[] = Object.freeze(MIGRATIONS)

export function openOidcStorage(
  file: string,
  now: () => number = () => Math.floor(Date.now() / 1000),
): OidcStorage {
  const db = openSqliteDatabase(file, { name: 'idp', migrations: IDP_SQLITE_MIGRATIONS })
  // Out of the commits and off the event loop (sqlite_checkpoint.ts): a checkpoint thread every
  // 200 ms; 10 000 pages ≈ 40 MB of WAL at most.
  const stopCheckpoints = checkpointWalInBackground(db, { everyMs: 200, maxWalPages: 10_000 })

  const statements = {
    upsert:
      db.prepare(`INSERT INTO oidc_model (model, id, payload, grant_id, user_code, uid, expires_at)
      VALUES (@model, @id, @payload, @grantId, @userCode, @uid, @expiresAt)
      ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
        user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at, consumed_at = NULL`),
    find: db.prepare(`SELECT payload, consumed_at FROM oidc_model
      WHERE model = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)`),
    findByUid: db.prepare(`SELECT payload, consumed_at FROM oidc_model
      WHERE model = ? AND uid = ? AND (expires_at IS NULL OR expires_at > ?)`),
    findByUserCode: db.prepare(`SELECT payload, consumed_at FROM oidc_model
      WHERE model = ? AND user_code = ? AND (expires_at IS NULL OR expires_at > ?)`),
    consume: db.prepare('UPDATE oidc_model SET consumed_at = ? WHERE model = ? AND id = ?'),
    destroy: db.prepare('DELETE FROM oidc_model WHERE model = ? AND id = ?'),
    revokeByGrantId: db.prepare('DELETE FROM oidc_model WHERE grant_id = ?'),
    revokeTokensByGrantId: db.prepare('DELETE FROM issued_token WHERE grant_id = ?'),
    insertToken: db.prepare(`INSERT INTO issued_token
      (jti, grant_id, parent_jti, client_id, sub, expires_at)
      VALUES (@jti, @grantId, @parentJti, @clientId, @sub, @expiresAt)
      ON CONFLICT (jti) DO UPDATE SET grant_id = excluded.grant_id,
        parent_jti = excluded.parent_jti, client_id = excluded.client_id, sub = excluded.sub,
        expires_at = excluded.expires_at`),
    // `WHERE true`: SQLite's rule for an upsert whose rows come from a SELECT.
    insertExchangedToken: db.prepare(`INSERT INTO issued_token
      (jti, grant_id, parent_jti, client_id, sub, expires_at)
      SELECT @jti, parent.grant_id, parent.jti, @clientId, @sub, @expiresAt
      FROM issued_token AS parent WHERE parent.jti = @parentJti AND true
      ON CONFLICT (jti) DO UPDATE SET grant_id = excluded.grant_id,
        parent_jti = excluded.parent_jti, client_id = excluded.client_id, sub = excluded.sub,
        expires_at = excluded.expires_at`),
    findToken: db.prepare(`SELECT * FROM issued_token
      WHERE jti = ? AND (expires_at IS NULL OR expires_at > ?)`),
    // Plucked: undefined for no row, null for a live row without a parent.
    findLiveToken: db
      .prepare(
        `SELECT t.parent_jti FROM issued_token AS t
      WHERE t.jti = ? AND (t.expires_at IS NULL OR t.expires_at > ?)
        AND (t.grant_id IS NULL OR EXISTS (SELECT 1 FROM oidc_model AS g
          WHERE g.model = 'Grant' AND g.id = t.grant_id AND (g.expires_at IS NULL OR g.expires_at > ?)))`,
      )
      .pluck(),
    deleteToken: db.prepare('DELETE FROM issued_token WHERE jti = ?'),
    sweep: db.prepare('DELETE FROM oidc_model WHERE expires_at IS NOT NULL AND expires_at <= ?'),
    sweepTokens: db.prepare(
      'DELETE FROM issued_token WHERE expires_at IS NOT NULL AND expires_at <= ?',
    ),
    sweepDelegations: db.prepare('DELETE FROM delegation WHERE expires_at <= ?'),
    insertDelegation: db.prepare(`INSERT INTO delegation
      (id, sub, client_id, audience, scopes, grant_id, created_at, expires_at)
      VALUES (@id, @sub, @clientId, @audience, @scopes, @grantId, @createdAt, @expiresAt)`),
    delegationsBySub: db.prepare(
      'SELECT * FROM delegation WHERE sub = ? AND expires_at > ? ORDER BY created_at DESC, id',
    ),
    delegationByGrant: db.prepare('SELECT * FROM delegation WHERE grant_id = ? AND expires_at > ?'),
    deleteDelegation: db.prepare('DELETE FROM delegation WHERE sub = ? AND id = ? RETURNING *'),
  }

  interface QueuedWrite {
    /** Writes the row; throws to refuse it. */
    readonly apply: () => void
    readonly resolve: () => void
    readonly reject: (error: unknown) => void
  }
  let queue: QueuedWrite[] = []
  /** `model id` of each queued oidc_model row. */
  const queuedModels = new Set<string>()
  /** `jti` of each queued issued-token row. */
  const queuedTokens = new Set<string>()
  /** How many queued rows are grants. */
  let queuedGrants = 0
  let scheduled = false
  const writeBatch = db.transaction((batch: readonly QueuedWrite[]) => {
    for (const write of batch) write.apply()
  })
  const keyOf = (model: string, id: string) => `${model} ${id}`

  /** Commits every queued row now (one transaction), then settles their promises. */
  function commitQueue(): void {
    if (queue.length === 0) return
    const batch = queue
    queue = []
    queuedModels.clear()
    queuedTokens.clear()
    queuedGrants = 0
    try {
      writeBatch(batch)
    } catch {
      // Row by row: only a row that fails on its own rejects its caller.
      for (const write of batch) {
        try {
          write.apply()
          write.resolve()
        } catch (error) {
          write.reject(error)
        }
      }
      return
    }
    for (const write of batch) write.resolve()
  }

  function enqueue(apply: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      queue.push({ apply, resolve, reject })
      if (!scheduled) {
        scheduled = true
        setImmediate(() => {
          scheduled = false
          commitQueue()
        })
      }
    })
  }

  function enqueueModel(model: string, id: string, row: Record<string, unknown>): Promise<void> {
    queuedModels.add(keyOf(model, id))
    if (model === 'Grant') queuedGrants++
    return enqueue(() => statements.upsert.run(row))
  }

  function enqueueToken(jti: string, apply: () => void): Promise<void> {
    queuedTokens.add(jti)
    return enqueue(apply)
  }

  /** A read of `model`/`id` sees its queued write: commit first (rare: nothing waits for it). */
  function commitIfQueued(model: string, id: string): void {
    if (queuedModels.has(keyOf(model, id))) commitQueue()
  }

  const tokenColumns = (row: IssuedTokenRow) => ({
    jti: row.jti,
    grantId: row.grantId ?? null,
    parentJti: row.parentJti ?? null,
    clientId: row.clientId,
    sub: row.sub ?? null,
    expiresAt: row.expiresAt ?? null,
  })

  function toPayload(row: unknown): Payload | undefined {
    if (!row) return undefined
    const { payload, consumed_at: consumedAt } = row as {
      payload: string
      consumed_at: number | null
    }
    const parsed = JSON.parse(payload) as Payload
    return consumedAt ? { ...parsed, consumed: consumedAt } : parsed
  }

  const revokeGrant = db.transaction((grantId: string) => {
    statements.revokeByGrantId.run(grantId)
    statements.revokeTokensByGrantId.run(grantId)
  })

  class SqliteAdapter implements OidcAdapter {
    constructor(private readonly model: string) {}

    upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      let row: Record<string, unknown>
      try {
        row = {
          model: this.model,
          id,
          payload: JSON.stringify(payload),
          grantId: typeof payload.grantId === 'string' ? payload.grantId : null,
          userCode: typeof payload.userCode === 'string' ? payload.userCode : null,
          uid: typeof payload.uid === 'string' ? payload.uid : null,
          expiresAt: expiresIn ? now() + expiresIn : null,
        }
      } catch (error) {
        return Promise.reject(error)
      }
      return enqueueModel(this.model, id, row)
    }

    async find(id: string) {
      commitIfQueued(this.model, id)
      return toPayload(statements.find.get(this.model, id, now()))
    }

    async findByUid(uid: string) {
      commitQueue()
      return toPayload(statements.findByUid.get(this.model, uid, now()))
    }

    async findByUserCode(userCode: string) {
      commitQueue()
      return toPayload(statements.findByUserCode.get(this.model, userCode, now()))
    }

    async consume(id: string): Promise<void> {
      commitQueue()
      statements.consume.run(now(), this.model, id)
    }

    async destroy(id: string): Promise<void> {
      commitQueue()
      statements.destroy.run(this.model, id)
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      commitQueue()
      // Together: no moment where the grant's tokens outlive the grant's rows.
      revokeGrant(grantId)
    }
  }

  return {
    Adapter: SqliteAdapter,
    kind: 'sqlite',
    delegations: {
      insert: async (record) => {
        statements.insertDelegation.run({ ...record, scopes: record.scopes.join(' ') })
      },
      listBySub: async (sub) =>
        (statements.delegationsBySub.all(sub, now()) as DelegationRow[]).map(toDelegation),
      findByGrant: async (grantId) => {
        const row = statements.delegationByGrant.get(grantId, now()) as DelegationRow | undefined
        return row === undefined ? undefined : toDelegation(row)
      },
      deleteOwned: async (sub, id) => {
        const row = statements.deleteDelegation.get(sub, id) as DelegationRow | undefined
        return row === undefined ? undefined : toDelegation(row)
      },
    },
    issuedTokens: {
      insert: (row) => {
        const columns = tokenColumns(row)
        return enqueueToken(row.jti, () => statements.insertToken.run(columns))
      },
      insertExchanged: (row) => {
        const columns = tokenColumns(row)
        return enqueueToken(row.jti, () => {
          // Inside the batch: a parent queued earlier in it is already written. The throw rolls the
          // batch back and it is retried row by row (rare: the parent was revoked since its check).
          if (statements.insertExchangedToken.run(columns).changes === 0) {
            throw new ParentTokenNotFound('the token it was exchanged from has no record')
          }
        })
      },
      find: async (jti) => {
        if (queuedTokens.has(jti)) commitQueue()
        const row = statements.findToken.get(jti, now()) as IssuedTokenColumns | undefined
        return row === undefined ? undefined : toIssuedToken(row)
      },
      findLive: async (jti) => {
        // The token's row, or a grant it may name, queued: commit first. Which grant a queued row
        // names is not known before reading it, so any queued Grant commits the queue.
        if (queuedGrants > 0 || queuedTokens.has(jti)) commitQueue()
        const at = now()
        const parent = statements.findLiveToken.get(jti, at, at) as string | null | undefined
        if (parent === undefined) return undefined
        return parent === null ? {} : { parentJti: parent }
      },
      delete: async (jti) => {
        commitQueue()
        statements.deleteToken.run(jti)
      },
    },
    sweepExpired: async () => {
      commitQueue()
      const at = now()
      return (
        statements.sweep.run(at).changes +
        statements.sweepTokens.run(at).changes +
        statements.sweepDelegations.run(at).changes
      )
    },
    ping: async () => {
      db.prepare('SELECT 1').get()
    },
    close: async () => {
      if (!db.open) return
      await stopCheckpoints()
      commitQueue()
      db.close()
    },
  }
}
