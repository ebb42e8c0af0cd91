/**
 * The IdP's PostgreSQL storage against the real server: two storages on one schema stand for two
 * IdP instances. What one writes the other reads (models, issued-token records), consumption and
 * expiry are seen by both, and revoking a grant on one kills its tokens for both.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createIssuedTokenRegistry } from '../../src/idp/issued_tokens.js'
import type { OidcStorage } from '../../src/idp/oidc_storage.js'
import { openPostgresOidcStorage } from '../../src/idp/postgres_adapter.js'
import { openPostgresPool } from '../../src/storage/postgres.js'
import { postgresUnavailable, testSchema, type TestSchema } from '../helpers/postgres.js'

const skip = await postgresUnavailable()

describe('IdP storage in PostgreSQL', { skip }, () => {
  let schema: TestSchema
  let one: OidcStorage
  let two: OidcStorage
  let clock = 1_000_000
  const now = () => clock

  before(async () => {
    schema = await testSchema()
    // Started together, as two instances would: the migration runs once.
    ;[one, two] = await Promise.all(
      [1, 2].map(() =>
        openPostgresOidcStorage(openPostgresPool(schema.url, { name: 'test', max: 3 }), {
          ownsPool: true,
          now,
        }),
      ),
    )
  })
  after(async () => {
    await Promise.all([one.close(), two.close()])
    await schema.drop()
  })

  it('when one instance stores an interaction then the other finds it by id and uid, consumed when consumed', async () => {
    const written = new one.Adapter('Interaction')
    const read = new two.Adapter('Interaction')
    await written.upsert('i-1', { uid: 'u-1', prompt: { name: 'login' } }, 600)
    assert.deepEqual(await read.find('i-1'), { uid: 'u-1', prompt: { name: 'login' } })
    assert.deepEqual((await read.findByUid('u-1'))?.prompt, { name: 'login' })
    assert.equal(await new two.Adapter('Session').find('i-1'), undefined, 'models stay apart')
    await read.consume('i-1')
    assert.equal((await written.find('i-1'))?.consumed, clock)
  })

  it('when a row expires then neither instance finds it and the sweep deletes it', async () => {
    const adapter = new one.Adapter('AuthorizationCode')
    await adapter.upsert('c-1', { grantId: 'g-x' }, 60)
    clock += 61
    assert.equal(await new two.Adapter('AuthorizationCode').find('c-1'), undefined)
    assert.ok((await two.sweepExpired()) >= 1)
  })

  it('when a grant is revoked on one instance then tokens recorded on the other stop being active', async () => {
    const grants = new one.Adapter('Grant')
    await grants.upsert('g-1', { accountId: 'alice' }, 3600)
    const onOne = createIssuedTokenRegistry(one, now)
    const onTwo = createIssuedTokenRegistry(two, now)
    await onOne.record({ jti: 'j-1', grantId: 'g-1', clientId: 'app-a', exp: clock + 300 })
    await onOne.settled()
    assert.equal(await onTwo.isActive('j-1'), true)
    await new two.Adapter('Grant').revokeByGrantId('g-1')
    assert.equal(await onOne.isActive('j-1'), false)
    assert.equal(await onTwo.isActive('j-1'), false)
    assert.equal(await onTwo.isActive('never-issued'), false)
  })

  it('when a token of a delegation chain is revoked on one instance then every token exchanged from it is inactive on the other', async () => {
    await new one.Adapter('Grant').upsert('g-2', { accountId: 'bob' }, 3600)
    const onOne = createIssuedTokenRegistry(one, now)
    const onTwo = createIssuedTokenRegistry(two, now)
    await onOne.record({ jti: 'root', grantId: 'g-2', clientId: 'app-a', exp: clock + 300 })
    await onOne.record({
      jti: 'hop-1',
      grantId: 'g-2',
      clientId: 'app-b',
      parentJti: 'root',
      exp: clock + 300,
    })
    await onOne.record({
      jti: 'hop-2',
      grantId: 'g-2',
      clientId: 'app-c',
      parentJti: 'hop-1',
      exp: clock + 300,
    })
    await onOne.record({ jti: 'other', grantId: 'g-2', clientId: 'app-a', exp: clock + 300 })
    assert.equal(await onTwo.isActive('hop-2'), true)
    await onOne.revoke('hop-1')
    assert.equal(await onTwo.isActive('hop-2'), false, 'below the revoked hop')
    assert.equal(await onTwo.isActive('hop-1'), false)
    assert.equal(await onTwo.isActive('root'), true, 'above it, untouched')
    assert.equal(await onTwo.isActive('other'), true)
  })

  it('when a record has already expired then it is not stored', async () => {
    const registry = createIssuedTokenRegistry(one, now)
    await registry.record({ jti: 'j-old', clientId: 'app-a', exp: clock - 1 })
    assert.equal(await registry.find('j-old'), undefined)
  })
})
