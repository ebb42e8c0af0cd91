/**
 * oidc-provider storage adapter on PostgreSQL (node-postgres pool), used when `DATABASE_URL` is
 * set: every IdP instance reads and writes the same sessions, grants, interactions, codes, refresh
 * tokens and issued-token records, so a sign-in started on one instance finishes on another and a
 * logout on one revokes the grant for all. Same model as the SQLite adapter (one table for every
 * model, expired rows ignored on read and swept periodically); `revokeByGrantId` is one statement,
 * so a grant's rows disappear together.
 */
import { migratePostgres, pingPostgres, type PgPool } from '../storage/postgres.js'
import {
  toDelegation,
  type DelegationRow,
  type OidcAdapter,
  type OidcStorage,
  type Payload,
} from './oidc_storage.js'

const MIGRATIONS = [
  `CREATE TABLE oidc_model (
     model       TEXT NOT NULL,
     id          TEXT NOT NULL,
     payload     JSONB NOT NULL,
     grant_id    TEXT,
     user_code   TEXT,
     uid         TEXT,
     expires_at  BIGINT,
     consumed_at BIGINT,
     PRIMARY KEY (model, id)
   );
   CREATE INDEX oidc_model_grant ON oidc_model (grant_id);
   CREATE INDEX oidc_model_uid ON oidc_model (model, uid);
   CREATE INDEX oidc_model_user_code ON oidc_model (model, user_code);
   CREATE INDEX oidc_model_expires ON oidc_model (expires_at);`,
  // As SQLite's migration 2: only interactions carry a uid and only device codes a user code, so
  // issued-token rows (one per exchange) stay out of those indexes.
  `DROP INDEX oidc_model_uid;
   DROP INDEX oidc_model_user_code;
   CREATE INDEX oidc_model_uid ON oidc_model (model, uid) WHERE uid IS NOT NULL;
   CREATE INDEX oidc_model_user_code ON oidc_model (model, user_code) WHERE user_code IS NOT NULL;`,
  // As SQLite's migration 3: users' delegations to agents.
  `CREATE TABLE delegation (
     id         TEXT PRIMARY KEY,
     sub        TEXT NOT NULL,
     client_id  TEXT NOT NULL,
     audience   TEXT NOT NULL,
     scopes     TEXT NOT NULL,
     grant_id   TEXT NOT NULL UNIQUE,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE INDEX delegation_by_sub ON delegation (sub, created_at);
   CREATE INDEX delegation_expires ON delegation (expires_at);`,
]

export const IDP_POSTGRES_MIGRATIONS = Object.freeze({ name: 'idp', migrations: MIGRATIONS })

interface Row {
  payload: Payload
  consumed_at: string | null
}

function toPayload(rows: readonly Row[]): Payload | undefined {
  const row = rows[0]
  if (!row) return undefined
  return row.consumed_at ? { ...row.payload, consumed: Number(row.consumed_at) } : row.payload
}

const LIVE = '(expires_at IS NULL OR expires_at > $3)'

/**
 * Migrates, then returns the storage. `ownsPool`: close the pool with the storage (the IdP opened
 * it for itself); a pool shared with other components is left open.
 */
export async function openPostgresOidcStorage(
  pool: PgPool,
  options: { ownsPool?: boolean; now?: () => number } = {},
): Promise<OidcStorage> {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000))
  await migratePostgres(pool, IDP_POSTGRES_MIGRATIONS)

  class PostgresAdapter implements OidcAdapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      await pool.query(
        `INSERT INTO oidc_model (model, id, payload, grant_id, user_code, uid, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload,
           grant_id = excluded.grant_id, user_code = excluded.user_code, uid = excluded.uid,
           expires_at = excluded.expires_at, consumed_at = NULL`,
        [
          this.model,
          id,
          JSON.stringify(payload),
          typeof payload.grantId === 'string' ? payload.grantId : null,
          typeof payload.userCode === 'string' ? payload.userCode : null,
          typeof payload.uid === 'string' ? payload.uid : null,
          expiresIn ? now() + expiresIn : null,
        ],
      )
    }

    private async findBy(column: 'id' | 'uid' | 'user_code', value: string) {
      const { rows } = await pool.query<Row>(
        `SELECT payload, consumed_at FROM oidc_model WHERE model = $1 AND ${column} = $2 AND ${LIVE}`,
        [this.model, value, now()],
      )
      return toPayload(rows)
    }

    find(id: string) {
      return this.findBy('id', id)
    }

    findByUid(uid: string) {
      return this.findBy('uid', uid)
    }

    findByUserCode(userCode: string) {
      return this.findBy('user_code', userCode)
    }

    async consume(id: string): Promise<void> {
      await pool.query('UPDATE oidc_model SET consumed_at = $1 WHERE model = $2 AND id = $3', [
        now(),
        this.model,
        id,
      ])
    }

    async destroy(id: string): Promise<void> {
      await pool.query('DELETE FROM oidc_model WHERE model = $1 AND id = $2', [this.model, id])
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await pool.query('DELETE FROM oidc_model WHERE grant_id = $1', [grantId])
    }
  }

  return {
    kind: 'postgres',
    Adapter: PostgresAdapter,
    delegations: {
      async insert(record) {
        await pool.query(
          `INSERT INTO delegation (id, sub, client_id, audience, scopes, grant_id, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            record.id,
            record.sub,
            record.clientId,
            record.audience,
            record.scopes.join(' '),
            record.grantId,
            record.createdAt,
            record.expiresAt,
          ],
        )
      },
      async listBySub(sub) {
        const { rows } = await pool.query<DelegationRow>(
          'SELECT * FROM delegation WHERE sub = $1 AND expires_at > $2 ORDER BY created_at DESC, id',
          [sub, now()],
        )
        return rows.map(toDelegation)
      },
      async findByGrant(grantId) {
        const { rows } = await pool.query<DelegationRow>(
          'SELECT * FROM delegation WHERE grant_id = $1 AND expires_at > $2',
          [grantId, now()],
        )
        return rows[0] === undefined ? undefined : toDelegation(rows[0])
      },
      async deleteOwned(sub, id) {
        const { rows } = await pool.query<DelegationRow>(
          'DELETE FROM delegation WHERE sub = $1 AND id = $2 RETURNING *',
          [sub, id],
        )
        return rows[0] === undefined ? undefined : toDelegation(rows[0])
      },
    },
    async findLiveWithGrant(model, id) {
      const { rows } = await pool.query<{ parent: unknown }>(
        `SELECT t.payload->>'parentJti' AS parent FROM oidc_model AS t
         WHERE t.model = $1 AND t.id = $2 AND (t.expires_at IS NULL OR t.expires_at > $3)
           AND (t.grant_id IS NULL OR EXISTS (SELECT 1 FROM oidc_model AS g
             WHERE g.model = 'Grant' AND g.id = t.grant_id
               AND (g.expires_at IS NULL OR g.expires_at > $3)))`,
        [model, id, now()],
      )
      const row = rows[0]
      if (row === undefined) return undefined
      return typeof row.parent === 'string' ? { parentJti: row.parent } : {}
    },
    async sweepExpired() {
      const result = await pool.query(
        'DELETE FROM oidc_model WHERE expires_at IS NOT NULL AND expires_at <= $1',
        [now()],
      )
      const delegations = await pool.query('DELETE FROM delegation WHERE expires_at <= $1', [now()])
      return (result.rowCount ?? 0) + (delegations.rowCount ?? 0)
    },
    ping: () => pingPostgres(pool),
    async close() {
      if (options.ownsPool) await pool.end()
    },
  }
}
