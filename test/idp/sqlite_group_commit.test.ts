/**
 * The IdP's SQLite storage commits its writes in groups (src/idp/sqlite_adapter.ts): an `upsert`
 * or issued-token insert resolves only once its row is committed (another connection to the file
 * sees it), rows written in one turn of the event loop share a transaction, a read of a queued row
 * sees it, and every other write keeps its order after the queued rows (a grant revoked right
 * after a token of it was queued leaves that token inactive).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { createIssuedTokenRegistry } from '../../src/idp/issued_tokens.js'
import { ParentTokenNotFound, type OidcStorage } from '../../src/idp/oidc_storage.js'
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
  const tokenCommitted = (jti: string) =>
    observer.prepare('SELECT 1 FROM issued_token WHERE jti = ?').get(jti) !== undefined
  const exp = () => Math.floor(Date.now() / 1000) + 300

  it('when rows are upserted in one turn then none is committed before the turn ends and every promise resolves only after all are committed', async () => {
    const codes = new storage.Adapter('AuthorizationCode')
    const ids = ['c-1', 'c-2', 'c-3']
    const writes = ids.map((id) => codes.upsert(id, { grantId: 'g-0', clientId: 'app-a' }, 300))
    // Still queued: another connection sees nothing yet.
    assert.deepEqual(
      ids.map((id) => committed('AuthorizationCode', id)),
      [false, false, false],
    )
    const seenWhenResolved: boolean[][] = []
    await Promise.all(
      writes.map((write) =>
        write.then(() =>
          seenWhenResolved.push(ids.map((id) => committed('AuthorizationCode', id))),
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
    assert.equal(tokenCommitted('exchanged-1'), false, 'deleted after its insert')
    assert.equal(await registry.find('exchanged-1'), undefined)
  })

  it('when a token of a live grant is recorded then it is active once the record resolves, and not after its own revocation', async () => {
    const registry = createIssuedTokenRegistry(storage)
    const grants = new storage.Adapter('Grant')
    await grants.upsert('g-2', { accountId: 'alice', clientId: 'app-a' }, 3600)
    const exp = Math.floor(Date.now() / 1000) + 300
    await registry.record({ jti: 'subject-2', grantId: 'g-2', clientId: 'app-a', exp })
    assert.equal(tokenCommitted('subject-2'), true)
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
    const sessions = new storage.Adapter('Session')
    const good = sessions.upsert('ok-1', { uid: 'u-ok' }, 300)
    const bad = sessions.upsert('bad-1', { n: 1n } as unknown as Record<string, unknown>)
    await assert.rejects(bad, TypeError)
    await good
    assert.equal(committed('Session', 'ok-1'), true)
    assert.equal(committed('Session', 'bad-1'), false)
  })

  it('when issued tokens are recorded in one turn then none is committed before the turn ends and each record resolves only after all are committed', async () => {
    const registry = createIssuedTokenRegistry(storage)
    const jtis = ['t-1', 't-2', 't-3']
    const writes = jtis.map((jti) => registry.record({ jti, clientId: 'app-a', exp: exp() }))
    assert.deepEqual(jtis.map(tokenCommitted), [false, false, false])
    const seenWhenResolved: boolean[][] = []
    await Promise.all(
      writes.map((write) => write.then(() => seenWhenResolved.push(jtis.map(tokenCommitted)))),
    )
    assert.deepEqual(seenWhenResolved, [
      [true, true, true],
      [true, true, true],
      [true, true, true],
    ])
    assert.equal(
      observer
        .prepare("SELECT count(*) FROM oidc_model WHERE model = 'IssuedAccessToken'")
        .pluck()
        .get(),
      0,
      'no record in the generic table',
    )
  })

  it('when a token is exchanged from a subject queued in the same turn then it takes the subject grant and the revocation of that grant kills both', async () => {
    const registry = createIssuedTokenRegistry(storage)
    await new storage.Adapter('Grant').upsert('g-3', { accountId: 'alice' }, 3600)
    const subject = registry.record({
      jti: 'subject-3',
      grantId: 'g-3',
      clientId: 'app-a',
      exp: exp(),
    })
    const exchangedExp = exp()
    const exchanged = registry.recordExchanged({
      jti: 'exchanged-3',
      clientId: 'app-b',
      parentJti: 'subject-3',
      exp: exchangedExp,
    })
    assert.equal(tokenCommitted('exchanged-3'), false, 'still queued')
    await Promise.all([subject, exchanged])
    assert.deepEqual(await registry.find('exchanged-3'), {
      jti: 'exchanged-3',
      grantId: 'g-3',
      parentJti: 'subject-3',
      clientId: 'app-b',
      exp: exchangedExp,
    })
    assert.equal(await registry.isActive('exchanged-3'), true)
    await new storage.Adapter('Grant').revokeByGrantId('g-3')
    assert.equal(await registry.isActive('exchanged-3'), false)
    assert.equal(tokenCommitted('exchanged-3'), false, 'its row deleted with the grant')
    assert.equal(tokenCommitted('subject-3'), false)
  })

  it('when the subject is revoked before the exchanged token is written then only that record is refused and the others of its turn are stored', async () => {
    const registry = createIssuedTokenRegistry(storage)
    await registry.record({ jti: 'subject-4', clientId: 'app-a', exp: exp() })
    await registry.revoke('subject-4')
    const other = registry.record({ jti: 'other-4', clientId: 'app-a', exp: exp() })
    const orphan = registry.recordExchanged({
      jti: 'orphan-4',
      clientId: 'app-b',
      parentJti: 'subject-4',
      exp: exp(),
    })
    await assert.rejects(orphan, ParentTokenNotFound)
    await other
    assert.equal(tokenCommitted('other-4'), true)
    assert.equal(tokenCommitted('orphan-4'), false, 'never stored without its parent')
    assert.equal(await registry.isActive('orphan-4'), false)
  })
})
