/**
 * The IdP's SQLite storage commits its writes in groups (src/idp/sqlite_adapter.ts): an `upsert`
 * resolves only once its row is committed (another connection to the file sees it), rows written
 * in one turn of the event loop share a transaction, a read of a queued row sees it, and every
 * other write keeps its order after the queued rows (a grant revoked right after a token of it was
 * queued leaves that token inactive).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { createIssuedTokenRegistry } from '../../src/idp/issued_tokens.js'
import type { OidcStorage } from '../../src/idp/oidc_storage.js'
import { openOidcStorage } from '../../src/idp/sqlite_adapter.js'

describe('IdP SQLite storage, group commit', () => {
  let dir: string
  let file: string
  let storage: OidcStorage
  let observer: Database.Database

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'onbehalf-group-commit-'))
    file = join(dir, 'idp.sqlite')
    storage = openOidcStorage(file)
    observer = new Database(file, { readonly: true })
  })
  after(async () => {
    observer.close()
    await storage.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const committed = (model: string, id: string) =>
    observer.prepare('SELECT 1 FROM oidc_model WHERE model = ? AND id = ?').get(model, id) !==
    undefined

  it('when rows are upserted in one turn then none is committed before the turn ends and every promise resolves only after all are committed', async () => {
    const tokens = new storage.Adapter('IssuedAccessToken')
    const ids = ['t-1', 't-2', 't-3']
    const writes = ids.map((id) => tokens.upsert(id, { jti: id, clientId: 'app-a' }, 300))
    // Still queued: another connection sees nothing yet.
    assert.deepEqual(
      ids.map((id) => committed('IssuedAccessToken', id)),
      [false, false, false],
    )
    const seenWhenResolved: boolean[][] = []
    await Promise.all(
      writes.map((write) =>
        write.then(() =>
          seenWhenResolved.push(ids.map((id) => committed('IssuedAccessToken', id))),
        ),
      ),
    )
    // Each promise resolved with every row of its group already visible to another connection.
    assert.deepEqual(seenWhenResolved, [
      [true, true, true],
      [true, true, true],
      [true, true, true],
    ])
  })

  it('when a queued row is read before its group commits then the read sees it', async () => {
    const sessions = new storage.Adapter('Session')
    const write = sessions.upsert('s-1', { uid: 'u-1', accountId: 'alice' }, 300)
    assert.equal(committed('Session', 's-1'), false)
    assert.deepEqual(await sessions.find('s-1'), { uid: 'u-1', accountId: 'alice' })
    assert.equal(committed('Session', 's-1'), true, 'the read committed the queue first')
    await write
    const byUid = sessions.upsert('s-2', { uid: 'u-2', accountId: 'bob' }, 300)
    assert.deepEqual(await sessions.findByUid('u-2'), { uid: 'u-2', accountId: 'bob' })
    await byUid
  })

  it('when a grant is revoked right after a token of it was queued then the token is inactive and its row is gone', async () => {
    const registry = createIssuedTokenRegistry(storage)
    const grants = new storage.Adapter('Grant')
    await grants.upsert('g-1', { accountId: 'alice', clientId: 'app-a' }, 3600)
    const recorded = registry.record({
      jti: 'exchanged-1',
      grantId: 'g-1',
      clientId: 'app-a',
      sub: 'alice',
      exp: Math.floor(Date.now() / 1000) + 300,
    })
    await grants.revokeByGrantId('g-1')
    await recorded
    assert.equal(await registry.isActive('exchanged-1'), false)
    assert.equal(committed('IssuedAccessToken', 'exchanged-1'), false, 'deleted after its insert')
    assert.equal(await registry.find('exchanged-1'), undefined)
  })

  it('when a token of a live grant is recorded then it is active once the record resolves, and not after its own revocation', async () => {
    const registry = createIssuedTokenRegistry(storage)
    const grants = new storage.Adapter('Grant')
    await grants.upsert('g-2', { accountId: 'alice', clientId: 'app-a' }, 3600)
    const exp = Math.floor(Date.now() / 1000) + 300
    await registry.record({ jti: 'subject-2', grantId: 'g-2', clientId: 'app-a', exp })
    assert.equal(committed('IssuedAccessToken', 'subject-2'), true)
    assert.equal(await registry.isActive('subject-2'), true)
    // A queued child is checked against its queued record, not missed.
    const child = registry.record({
      jti: 'child-2',
      grantId: 'g-2',
      clientId: 'app-a',
      exp,
      parentJti: 'subject-2',
    })
    assert.equal(await registry.isActive('child-2'), true)
    await child
    await registry.revoke('subject-2')
    assert.equal(await registry.isActive('child-2'), false, 'dies with its parent')
  })

  it('when a row cannot be encoded then only its caller is refused and the others of its turn are stored', async () => {
    const tokens = new storage.Adapter('IssuedAccessToken')
    const good = tokens.upsert('ok-1', { jti: 'ok-1' }, 300)
    const bad = tokens.upsert('bad-1', { jti: 'bad-1', n: 1n } as unknown as Record<
      string,
      unknown
    >)
    await assert.rejects(bad, TypeError)
    await good
    assert.equal(committed('IssuedAccessToken', 'ok-1'), true)
    assert.equal(committed('IssuedAccessToken', 'bad-1'), false)
  })
})
