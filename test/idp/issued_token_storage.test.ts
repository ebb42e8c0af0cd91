/**
 * The `issued_token` table on both IdP storages (SQLite in a temporary folder, PostgreSQL in a
 * schema of its own): records written by the previous schema (model `IssuedAccessToken` of
 * oidc_model) move over and their tokens stay active; revoking a grant deletes every token of it,
 * exchanged ones included; an exchanged token takes its parent's grant and is refused when its
 * parent has no record; expired records are swept, live ones kept.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createIssuedTokenRegistry } from '../../src/idp/issued_tokens.js'
import { ParentTokenNotFound, type OidcStorage } from '../../src/idp/oidc_storage.js'
import { IDP_POSTGRES_MIGRATIONS, openPostgresOidcStorage } from '../../src/idp/postgres_adapter.js'
import { IDP_SQLITE_MIGRATIONS, openOidcStorage } from '../../src/idp/sqlite_adapter.js'
import { migratePostgres, openPostgresPool } from '../../src/storage/postgres.js'
import { openSqliteDatabase } from '../../src/storage/sqlite.js'
import { postgresUnavailable, testSchema } from '../helpers/postgres.js'

const pgSkip = await postgresUnavailable()

/** Schema version before the issued_token table: oidc_model held the records. */
const BEFORE_ISSUED_TOKEN_TABLE = 3

/** A row as the previous adapter wrote it: model, id, JSON payload, grant_id, expires_at. */
interface OldRow {
  readonly model: string
  readonly id: string
  readonly payload: Record<string, unknown>
  readonly grantId: string | null
  readonly expiresAt: number
}

interface Backend {
  name: string
  skip: string | false | undefined
  /** A storage at the current schema; `old` rows are written at the previous schema first. */
  open: (
    now: () => number,
    old?: readonly OldRow[],
  ) => Promise<{ storage: OidcStorage; dispose: () => Promise<void> }>
}

const OLD_INSERT = `INSERT INTO oidc_model (model, id, payload, grant_id, expires_at)
  VALUES ($1, $2, $3, $4, $5)`

const backends: Backend[] = [
  {
    name: 'SQLite',
    skip: false,
    async open(now, old = []) {
      const dir = mkdtempSync(join(tmpdir(), 'onbehalf-issued-token-'))
      const file = join(dir, 'idp.sqlite')
      if (old.length > 0) {
        const db = openSqliteDatabase(file, {
          name: 'idp',
          migrations: IDP_SQLITE_MIGRATIONS.slice(0, BEFORE_ISSUED_TOKEN_TABLE),
        })
        const insert = db.prepare(OLD_INSERT.replace(/\$\d/g, '?'))
        for (const row of old) {
          insert.run(row.model, row.id, JSON.stringify(row.payload), row.grantId, row.expiresAt)
        }
        db.close()
      }
      const storage = openOidcStorage(file, now)
      return {
        storage,
        dispose: async () => {
          await storage.close()
          rmSync(dir, { recursive: true, force: true })
        },
      }
    },
  },
  {
    name: 'PostgreSQL',
    skip: pgSkip,
    async open(now, old = []) {
      const schema = await testSchema()
      const pool = openPostgresPool(schema.url, { name: 'test', max: 2 })
      if (old.length > 0) {
        await migratePostgres(pool, {
          name: 'idp',
          migrations: IDP_POSTGRES_MIGRATIONS.migrations.slice(0, BEFORE_ISSUED_TOKEN_TABLE),
        })
        for (const row of old) {
          await pool.query(OLD_INSERT, [
            row.model,
            row.id,
            JSON.stringify(row.payload),
            row.grantId,
            row.expiresAt,
          ])
        }
      }
      const storage = await openPostgresOidcStorage(pool, { ownsPool: true, now })
      return {
        storage,
        dispose: async () => {
          await storage.close()
          await schema.drop()
        },
      }
    },
  },
]

for (const backend of backends) {
  describe(`issued-token records on ${backend.name}`, { skip: backend.skip }, () => {
    let clock = 1_000_000
    const now = () => clock

    it('when records were written at the previous schema then after the migration their tokens are still active, keep their grant and parent and die with their grant', async () => {
      const old: OldRow[] = [
        {
          model: 'Grant',
          id: 'g-old',
          payload: { accountId: 'alice', clientId: 'app-a' },
          grantId: null,
          expiresAt: clock + 3600,
        },
        {
          model: 'IssuedAccessToken',
          id: 'login-old',
          payload: { jti: 'login-old', grantId: 'g-old', clientId: 'app-a', sub: 'alice' },
          grantId: 'g-old',
          expiresAt: clock + 600,
        },
        {
          model: 'IssuedAccessToken',
          id: 'exchanged-old',
          payload: {
            jti: 'exchanged-old',
            grantId: 'g-old',
            clientId: 'app-b',
            sub: 'alice',
            parentJti: 'login-old',
          },
          grantId: 'g-old',
          expiresAt: clock + 300,
        },
      ]
      const { storage, dispose } = await backend.open(now, old)
      try {
        const registry = createIssuedTokenRegistry(storage, now)
        assert.equal(await registry.isActive('login-old'), true)
        assert.equal(await registry.isActive('exchanged-old'), true)
        assert.deepEqual(await registry.find('exchanged-old'), {
          jti: 'exchanged-old',
          grantId: 'g-old',
          parentJti: 'login-old',
          clientId: 'app-b',
          sub: 'alice',
          exp: clock + 300,
        })
        assert.equal(
          await new storage.Adapter('IssuedAccessToken').find('login-old'),
          undefined,
          'no longer in the generic table',
        )
        assert.ok(await new storage.Adapter('Grant').find('g-old'), 'other models untouched')
        await new storage.Adapter('Grant').revokeByGrantId('g-old')
        assert.equal(await registry.isActive('login-old'), false)
        assert.equal(await registry.isActive('exchanged-old'), false)
      } finally {
        await dispose()
      }
    })

    it('when a grant is revoked then every token of it, exchanged ones included, is inactive and deleted, and tokens of other grants are not', async () => {
      const { storage, dispose } = await backend.open(now)
      try {
        const registry = createIssuedTokenRegistry(storage, now)
        const grants = new storage.Adapter('Grant')
        await grants.upsert('g-1', { accountId: 'alice' }, 3600)
        await grants.upsert('g-2', { accountId: 'bob' }, 3600)
        await registry.record({ jti: 'root', grantId: 'g-1', clientId: 'app-a', exp: clock + 600 })
        await registry.recordExchanged({
          jti: 'hop-1',
          clientId: 'app-b',
          parentJti: 'root',
          exp: clock + 300,
        })
        await registry.recordExchanged({
          jti: 'hop-2',
          clientId: 'app-c',
          parentJti: 'hop-1',
          exp: clock + 300,
        })
        await registry.record({ jti: 'bob', grantId: 'g-2', clientId: 'app-a', exp: clock + 600 })
        assert.equal((await registry.find('hop-2'))?.grantId, 'g-1', "the root's grant, inherited")
        assert.equal(await registry.isActive('hop-2'), true)
        await grants.revokeByGrantId('g-1')
        for (const jti of ['root', 'hop-1', 'hop-2']) {
          assert.equal(await registry.isActive(jti), false, jti)
          assert.equal(await registry.find(jti), undefined, `${jti} deleted`)
        }
        assert.equal(await registry.isActive('bob'), true)
      } finally {
        await dispose()
      }
    })

    it('when the parent has no record then the exchanged token is refused and not stored', async () => {
      const { storage, dispose } = await backend.open(now)
      try {
        const registry = createIssuedTokenRegistry(storage, now)
        await assert.rejects(
          registry.recordExchanged({
            jti: 'orphan',
            clientId: 'app-b',
            parentJti: 'never-issued',
            exp: clock + 300,
          }),
          ParentTokenNotFound,
        )
        assert.equal(await registry.find('orphan'), undefined)
        assert.equal(await registry.isActive('orphan'), false)
      } finally {
        await dispose()
      }
    })

    it('when records expire then the sweep deletes them and keeps the live ones', async () => {
      const { storage, dispose } = await backend.open(now)
      try {
        const registry = createIssuedTokenRegistry(storage, now)
        await registry.record({ jti: 'short', clientId: 'app-a', exp: clock + 60 })
        await registry.record({ jti: 'long', clientId: 'app-a', exp: clock + 600 })
        clock += 61
        assert.equal(await registry.isActive('short'), false, 'expired')
        assert.equal(await storage.sweepExpired(), 1)
        clock -= 61
        // Back before its expiry: a record merely ignored would be found again.
        assert.equal(await registry.find('short'), undefined, 'deleted')
        assert.equal((await registry.find('long'))?.jti, 'long', 'kept')
      } finally {
        await dispose()
      }
    })
  })
}
