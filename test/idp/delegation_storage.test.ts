/**
 * The `delegation` table (issue 16) on both IdP storages: SQLite in a temporary folder and
 * PostgreSQL (one schema per test run). A delegation is found by its grant and listed for its user
 * only while unexpired, deleted only by its owner, and swept once expired.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { DelegationRecord, OidcStorage } from '../../src/idp/oidc_storage.js'
import { openPostgresOidcStorage } from '../../src/idp/postgres_adapter.js'
import { openOidcStorage } from '../../src/idp/sqlite_adapter.js'
import { openPostgresPool } from '../../src/storage/postgres.js'
import { postgresUnavailable, testSchema } from '../helpers/postgres.js'

const pgSkip = await postgresUnavailable()

const backends: Array<{
  name: string
  skip: string | false | undefined
  open: (now: () => number) => Promise<{ storage: OidcStorage; dispose: () => Promise<void> }>
}> = [
  {
    name: 'SQLite',
    skip: false,
    async open(now) {
      const dir = mkdtempSync(join(tmpdir(), 'onbehalf-delegation-'))
      const storage = openOidcStorage(join(dir, 'idp.sqlite'), now)
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
    async open(now) {
      const schema = await testSchema()
      const storage = await openPostgresOidcStorage(
        openPostgresPool(schema.url, { name: 'test', max: 2 }),
        { ownsPool: true, now },
      )
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

const record = (overrides: Partial<DelegationRecord> = {}): DelegationRecord => ({
  id: 'd-1',
  sub: 'alice',
  clientId: 'app-d',
  audience: 'app-b',
  scopes: ['todos:read', 'todos:write'],
  grantId: 'g-1',
  createdAt: 1_000,
  expiresAt: 2_000,
  ...overrides,
})

for (const backend of backends) {
  describe(`delegations on ${backend.name}`, { skip: backend.skip }, () => {
    it('whenStoredThenFoundByGrantListedForItsUserAndDeletedOnlyByItsOwner', async () => {
      let clock = 1_500
      const { storage, dispose } = await backend.open(() => clock)
      try {
        await storage.delegations.insert(record())
        await storage.delegations.insert(record({ id: 'd-2', grantId: 'g-2', createdAt: 1_100 }))
        assert.deepEqual(await storage.delegations.findByGrant('g-1'), record())
        assert.deepEqual(
          (await storage.delegations.listBySub('alice')).map((d) => d.id),
          ['d-2', 'd-1'],
        )
        assert.deepEqual(await storage.delegations.listBySub('bob'), [])
        assert.equal(await storage.delegations.deleteOwned('bob', 'd-1'), undefined)
        assert.deepEqual(await storage.delegations.deleteOwned('alice', 'd-1'), record())
        assert.equal(await storage.delegations.findByGrant('g-1'), undefined)
        // Expired: neither found nor listed, then swept.
        clock = 2_001
        assert.equal(await storage.delegations.findByGrant('g-2'), undefined)
        assert.deepEqual(await storage.delegations.listBySub('alice'), [])
        assert.ok((await storage.sweepExpired()) >= 1)
        assert.equal(await storage.delegations.deleteOwned('alice', 'd-2'), undefined)
      } finally {
        await dispose()
      }
    })
  })
}
