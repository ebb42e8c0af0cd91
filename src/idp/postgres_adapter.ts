/**
 * oidc-provider storage adapter on PostgreSQL (node-postgres pool), used when `DATABASE_URL` is
 * set: every IdP instance reads and writes the same sessions, grants, interactions, codes, refresh
 * tokens and issued-token records, so a sign-in started on one instance finishes on another and a
 * logout on one revokes the grant for all. Same model as the SQLite adapter (one table for every
 * model, issued-token records in a table of their own, expired rows ignored on read and swept
 * periodically); `revokeByGrantId` is one statement, so a grant's rows and tokens disappear
 * together.
 */
import { migratePostgres, pingPostgres, type PgPool } from '../storage/postgres.js'
import {
  ParentTokenNotFound,
  toDelegation,
  toIssuedToken,
  type IssuedTokenColumns,
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
  // As SQLite's migration 4: issued-token records in a table of their own, columns only; records
  // written by earlier versions move over, so their tokens stay active.
  `CREATE TABLE issued_token (
     jti        TEXT NOT NULL PRIMARY KEY,
     grant_id   TEXT,
     parent_jti TEXT,
     client_id  TEXT NOT NULL,
     sub        TEXT,
     expires_at BIGINT
   );
   CREATE INDEX issued_token_grant ON issued_token (grant_id) WHERE grant_id IS NOT NULL;
   CREATE INDEX issued_token_expires ON issued_token (expires_at) WHERE expires_at IS NOT NULL;
   INSERT INTO issued_token (jti, grant_id, parent_jti, client_id, sub, expires_at)
     SELECT id, grant_id, payload->>'parentJti', coalesce(payload->>'clientId', ''),
       payload->>'sub', expires_at
     FROM oidc_model WHERE model = 'IssuedAccessToken';
   DELETE FROM oidc_model WHERE model = 'IssuedAccessToken';`,
]

const UPSERT_TOKEN_COLUMNS = `ON CONFLICT (jti) DO UPDATE SET grant_id = excluded.grant_id,
  parent_jti = excluded.parent_jti, client_id = excluded.client_id, sub = excluded.sub,
  expires_at = excluded.expires_at`

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
      await pool.query(
        `WITH tokens AS (DELETE FROM issued_token WHERE grant_id = $1)
         DELETE FROM oidc_model WHERE grant_id = $1`,
        [grantId],
      )
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
    issuedTokens: {
      async insert(row) {
        await pool.query(
          `INSERT INTO issued_token (jti, grant_id, parent_jti, client_id, sub, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6) ${UPSERT_TOKEN_COLUMNS}`,
          [
            row.jti,
            row.grantId ?? null,
            row.parentJti ?? null,
            row.clientId,
            row.sub ?? null,
            row.expiresAt ?? null,
          ],
        )
      },
      async insertExchanged(row) {
        const result = await pool.query(
          `INSERT INTO issued_token (jti, grant_id, parent_jti, client_id, sub, expires_at)
           SELECT $1, parent.grant_id, parent.jti, $3, $4, $5
           FROM issued_token AS parent WHERE parent.jti = $2 ${UPSERT_TOKEN_COLUMNS}`,
          [row.jti, row.parentJti, row.clientId, row.sub ?? null, row.expiresAt ?? null],
        )
        if (result.rowCount === 0) {
          throw new ParentTokenNotFound('the token it was exchanged from has no record')
        }
      },
      async find(jti) {
        const { rows } = await pool.query<IssuedTokenColumns>(
          'SELECT * FROM issued_token WHERE jti = $1 AND (expires_at IS NULL OR expires_at > $2)',
          [jti, now()],
        )
        return rows[0] === undefined ? undefined : toIssuedToken(rows[0])
      },
      async findLive(jti) {
        const { rows } = await pool.query<{ parent_jti: string | null }>(
          `SELECT t.parent_jti FROM issued_token AS t
           WHERE t.jti = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)
             AND (t.grant_id IS NULL OR EXISTS (SELECT 1 FROM oidc_model AS g
               WHERE g.model = 'Grant' AND g.id = t.grant_id
                 AND (g.expires_at IS NULL OR g.expires_at > $2)))`,
          [jti, now()],
        )
        const row = rows[0]
        if (row === undefined) return undefined
        return row.parent_jti === null ? {} : { parentJti: row.parent_jti }
      },
      async delete(jti) {
        await pool.query('DELETE FROM issued_token WHERE jti = $1', [jti])
      },
    },
    async sweepExpired() {
      const result = await pool.query(
        'DELETE FROM oidc_model WHERE expires_at IS NOT NULL AND expires_at <= $1',
        [now()],
      )
      const tokens = await pool.query(
        'DELETE FROM issued_token WHERE expires_at IS NOT NULL AND expires_at <= $1',
        [now()],
      )
      const delegations = await pool.query('DELETE FROM delegation WHERE expires_at <= $1', [now()])
      return (result.rowCount ?? 0) + (tokens.rowCount ?? 0) + (delegations.rowCount ?? 0)
    },
    ping: () => pingPostgres(pool),
    async close() {
      if (options.ownsPool) await pool.end()
    },
  }
}
