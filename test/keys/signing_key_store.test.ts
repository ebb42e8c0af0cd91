/**
 * The signing key store over its file backend, on real files in a temporary folder: first
 * creation (exclusive), refusal when asked not to create, rotation and the publication window,
 * reload when another process changes the file, and no lost write between concurrent writers.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createJwsVerifier } from '../../src/jws/verify_jws.js'
import { createFileKeyBackend } from '../../src/keys/file_key_backend.js'
import {
  openSigningKeyStore,
  SigningKeyStoreError,
  type SigningKeySet,
  type SigningKeyStore,
  type SigningKeyStoreOptions,
} from '../../src/keys/signing_key_store.js'

const folders: string[] = []
after(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true })
})

function keyFile(): string {
  const folder = mkdtempSync(join(tmpdir(), 'onbehalf-keystore-'))
  folders.push(folder)
  return join(folder, 'keys.json')
}

function open(
  file: string,
  options: Partial<Omit<SigningKeyStoreOptions, 'backend'>> & {
    pollIntervalMs?: number
    fileEvents?: boolean
  } = {},
): Promise<SigningKeyStore> {
  return openSigningKeyStore({
    backend: createFileKeyBackend({
      file,
      pollIntervalMs: options.pollIntervalMs,
      fileEvents: options.fileEvents,
    }),
    publishRetiredForSeconds: 3600,
    create: 'if-missing',
    ...options,
  })
}

/** Resolves with the first key set `store` announces, or rejects after `ms`. */
function nextChange(store: SigningKeyStore, ms = 3000): Promise<SigningKeySet> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no key change within ${ms} ms`)), ms)
    const stop = store.subscribe((keys) => {
      clearTimeout(timer)
      stop()
      resolve(keys)
    })
  })
}

const kids = (keys: SigningKeySet) => keys.keys.map((key) => key.kid)

describe('signing key store', () => {
  it('when no key file exists then the first open creates one ES256 key with a thumbprint kid, mode 0600', async () => {
    const file = keyFile()
    const store = await open(file)
    const { active } = store.current()
    assert.match(active.kid, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(active.alg, 'ES256')
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.equal(store.current().publicJwks().keys[0]!.d, undefined, 'no private part published')
    await store.close()
    const again = await open(file)
    assert.equal(again.current().active.kid, active.kid, 'persisted across opens')
    await again.close()
  })

  it('when several instances start together on a missing file then they all use one key', async () => {
    const file = keyFile()
    const stores = await Promise.all(Array.from({ length: 6 }, () => open(file)))
    assert.equal(new Set(stores.map((store) => store.current().active.kid)).size, 1)
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).keys.length, 1)
    await Promise.all(stores.map((store) => store.close()))
  })

  it('when create is never and no key file exists then key_store_missing and nothing is created', async () => {
    const file = keyFile()
    await assert.rejects(
      open(file, { create: 'never' }),
      (error: unknown) =>
        error instanceof SigningKeyStoreError &&
        error.code === 'key_store_missing' &&
        error.message.includes(file),
    )
    assert.equal(existsSync(file), false, 'no key file was created')
  })

  it('when the key file is not a key store then key_store_invalid naming the file', async () => {
    const file = keyFile()
    writeFileSync(file, '{"version":1,"keys":[]}')
    await assert.rejects(open(file), { name: 'SigningKeyStoreError', code: 'key_store_invalid' })
  })

  it('rotate then the new key signs and the retired key stays published until its window passes', async () => {
    const file = keyFile()
    let now = 1_000_000
    const store = await open(file, { now: () => now })
    const first = store.current().active.kid
    const rotated = await store.rotate()
    assert.notEqual(rotated.active.kid, first)
    assert.deepEqual(kids(rotated), [rotated.active.kid, first])
    assert.equal(store.current().active.kid, rotated.active.kid)
    assert.ok(store.current().publicKeyFor(first), 'the retired key still verifies')

    now += 3599
    assert.deepEqual(kids(store.current()), [rotated.active.kid, first])
    const dropped = nextChange(store)
    now += 2
    assert.deepEqual(kids(store.current()), [rotated.active.kid], 'dropped once its window ended')
    assert.deepEqual(kids(await dropped), [rotated.active.kid], 'and subscribers are told')
    await store.close()

    const reopened = await open(file, { now: () => now })
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).keys.length, 1, 'pruned from the file')
    await reopened.close()
  })

  it('the signer follows rotations: one kept signer signs with whatever key is active', async () => {
    const file = keyFile()
    const store = await open(file)
    const signer = store.signer()
    const verifier = createJwsVerifier({
      algorithms: ['ES256'],
      resolveKey: ({ kid }) => (kid ? store.current().publicKeyFor(kid) : undefined),
    })
    const before = await verifier.verify(signer.sign({}, { n: 1 }))
    await store.rotate()
    const after = await verifier.verify(signer.sign({}, { n: 2 }))
    assert.notEqual(after.header.kid, before.header.kid)
    assert.equal(after.header.kid, store.current().active.kid)
    assert.equal(signer.kid, store.current().active.kid)
    await store.close()
  })

  it('when another process rotates then a running store picks it up without reopening', async () => {
    const file = keyFile()
    const running = await open(file)
    const oldKid = running.current().active.kid
    const changed = nextChange(running)
    // As `onbehalf keys rotate` does: its own store on the same file.
    const cli = await open(file, { create: 'never' })
    const rotated = await cli.rotate()
    await cli.close()
    const seen = await changed
    assert.equal(seen.active.kid, rotated.active.kid)
    assert.deepEqual(kids(running.current()), [rotated.active.kid, oldKid])
    await running.close()
  })

  it('when file events are missed then the poll still picks up a rotation', async () => {
    const file = keyFile()
    const running = await open(file, { pollIntervalMs: 50, fileEvents: false })
    const cli = await open(file, { create: 'never' })
    const changed = nextChange(running, 2000)
    const rotated = await cli.rotate()
    assert.equal((await changed).active.kid, rotated.active.kid)
    await cli.close()
    await running.close()
  })

  it('a key rotated in elsewhere is found on demand, before any notification', async () => {
    const file = keyFile()
    const running = await open(file, { pollIntervalMs: 60_000 })
    const cli = await open(file, { create: 'never' })
    const rotated = await cli.rotate()
    await cli.close()
    // No event has been delivered yet (same tick): the lookup checks the file itself.
    const key = await running.findPublicKey(rotated.active.kid)
    assert.ok(key)
    assert.ok(key.equals(rotated.active.publicKey))
    assert.ok((await running.publishedJwks()).keys.some((jwk) => jwk.kid === rotated.active.kid))
    assert.equal(await running.findPublicKey('no-such-kid'), undefined)
    await running.close()
  })

  it('when two writers rotate at once then neither rotation is lost', async () => {
    const file = keyFile()
    const [a, b] = await Promise.all([open(file), open(file)])
    const original = a.current().active.kid
    const [fromA, fromB] = await Promise.all([a.rotate(), b.rotate()])
    const stored = JSON.parse(readFileSync(file, 'utf8')).keys as Array<{
      kid: string
      retiredAt?: number
    }>
    assert.equal(stored.length, 3, 'original + two rotations')
    assert.equal(stored.filter((key) => key.retiredAt === undefined).length, 1, 'one active key')
    const all = new Set(stored.map((key) => key.kid))
    for (const kid of [original, fromA.active.kid, fromB.active.kid]) assert.ok(all.has(kid))
    await Promise.all([a.close(), b.close()])
  })

  it('when the key file is replaced by garbage then the store keeps its keys, and a sync says why', async () => {
    const file = keyFile()
    const store = await open(file, { pollIntervalMs: 20 })
    const kid = store.current().active.kid
    writeFileSync(file, 'not json')
    await new Promise((resolve) => setTimeout(resolve, 120))
    assert.equal(store.current().active.kid, kid)
    await assert.rejects(store.sync(), { code: 'key_store_invalid' })
    await store.close()
  })
})
