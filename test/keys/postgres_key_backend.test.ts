/**
 * The signing key store over its PostgreSQL backend, against the real server (a schema of its
 * own): instances starting together agree on one key, concurrent rotations from several instances
 * lose none, a rotation by one instance reaches the others (NOTIFY, and the poll when it is
 * missed), and a missing key set is refused rather than created behind a rotation's back.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createPostgresKeyBackend } from '../../src/keys/postgres_key_backend.js'
import {
  openSigningKeyStore,
  SigningKeyStoreError,
  type SigningKeySet,
  type SigningKeyStore,
} from '../../src/keys/signing_key_store.js'
import { openPostgresPool, type PgPool } from '../../src/storage/postgres.js'
import { postgresUnavailable, testSchema, type TestSchema } from '../helpers/postgres.js'

const skip = await postgresUnavailable()

describe('signing keys in PostgreSQL', { skip }, () => {
  let schema: TestSchema
  const pools: PgPool[] = []
  /** One pool per simulated instance: separate connections, as separate processes would have. */
  const instancePool = () => {
    const pool = openPostgresPool(schema.url, { name: 'test', max: 3 })
    pools.push(pool)
    return pool
  }
  let n = 0

  async function open(
    name: string,
    options: { create?: 'if-missing' | 'never'; pollIntervalMs?: number } = {},
  ): Promise<SigningKeyStore> {
    return openSigningKeyStore({
      backend: await createPostgresKeyBackend({
        pool: instancePool(),
        name,
        pollIntervalMs: options.pollIntervalMs,
      }),
      publishRetiredForSeconds: 3600,
      create: options.create ?? 'if-missing',
    })
  }

  function nextChange(store: SigningKeyStore, ms = 5000): Promise<SigningKeySet> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no key change within ${ms} ms`)), ms)
      const stop = store.subscribe((keys) => {
        clearTimeout(timer)
        stop()
        resolve(keys)
      })
    })
  }

  before(async () => {
    schema = await testSchema()
  })
  after(async () => {
    await Promise.all(pools.map((pool) => pool.end()))
    await schema.drop()
  })

  it('when several instances start together on an empty database then they all use one key', async () => {
    const name = `set-${++n}`
    const stores = await Promise.all(Array.from({ length: 5 }, () => open(name)))
    assert.equal(new Set(stores.map((store) => store.current().active.kid)).size, 1)
    const { rows } = await pools[0]!.query(
      'SELECT jsonb_array_length(keys) AS n FROM signing_key_set WHERE name = $1',
      [name],
    )
    assert.equal(rows[0].n, 1, 'one key stored, not one per instance')
    await Promise.all(stores.map((store) => store.close()))
  })

  it('when instances rotate concurrently then no rotation is lost and exactly one key is active', async () => {
    const name = `set-${++n}`
    const stores = await Promise.all(Array.from({ length: 4 }, () => open(name)))
    const original = stores[0]!.current().active.kid
    const results = await Promise.all(stores.map((store) => store.rotate()))
    const { rows } = await pools[0]!.query<{ keys: Array<{ kid: string; retiredAt?: number }> }>(
      'SELECT keys FROM signing_key_set WHERE name = $1',
      [name],
    )
    const stored = rows[0]!.keys
    assert.equal(stored.length, 5, 'original + four rotations')
    assert.equal(stored.filter((key) => key.retiredAt === undefined).length, 1, 'one active key')
    const all = new Set(stored.map((key) => key.kid))
    for (const kid of [original, ...results.map((keys) => keys.active.kid)]) assert.ok(all.has(kid))
    await Promise.all(stores.map((store) => store.sync()))
    assert.equal(
      new Set(stores.map((store) => store.current().active.kid)).size,
      1,
      'every instance converges on the same active key',
    )
    await Promise.all(stores.map((store) => store.close()))
  })

  it('when one instance rotates then another signs with the new key without reopening (notification)', async () => {
    const name = `set-${++n}`
    // The poll is an hour away: only the NOTIFY can deliver this change in time.
    const running = await open(name, { pollIntervalMs: 3_600_000 })
    const other = await open(name, { pollIntervalMs: 3_600_000 })
    const oldKid = running.current().active.kid
    await new Promise((resolve) => setTimeout(resolve, 300)) // LISTEN established
    const changed = nextChange(running)
    const rotated = await other.rotate()
    const seen = await changed
    assert.equal(seen.active.kid, rotated.active.kid)
    assert.notEqual(seen.active.kid, oldKid)
    assert.equal(running.signer().kid, rotated.active.kid)
    assert.ok(running.current().publicKeyFor(oldKid), 'the retired key stays published')
    await Promise.all([running.close(), other.close()])
  })

  it('when a key is rotated elsewhere then it is found on demand before any notification', async () => {
    const name = `set-${++n}`
    const running = await open(name, { pollIntervalMs: 3_600_000 })
    const other = await open(name, { create: 'never' })
    const rotated = await other.rotate()
    const key = await running.findPublicKey(rotated.active.kid)
    assert.ok(key?.equals(rotated.active.publicKey))
    assert.equal(await running.findPublicKey('no-such-kid'), undefined)
    await Promise.all([running.close(), other.close()])
  })

  it('when create is never and no key set exists then key_store_missing and nothing is created', async () => {
    const name = `set-${++n}`
    await assert.rejects(
      open(name, { create: 'never' }),
      (error: unknown) =>
        error instanceof SigningKeyStoreError && error.code === 'key_store_missing',
    )
    const { rowCount } = await pools[0]!.query('SELECT 1 FROM signing_key_set WHERE name = $1', [
      name,
    ])
    assert.equal(rowCount, 0)
  })
})
