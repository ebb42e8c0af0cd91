/**
 * The attempt list: every file in src/attack/attempts/ is one attempt and is listed in ATTEMPTS
 * (a new attempt cannot be forgotten), its id is its file name, and ids are unique.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { test } from 'node:test'
import { ATTEMPTS, TXN_ATTEMPTS, type Attempt, type TxnAttempt } from '../../src/attack/index.js'

const folder = new URL('../../src/attack/attempts/', import.meta.url)

test('every attempt file exports one attempt named after it, listed once in ATTEMPTS or TXN_ATTEMPTS', async () => {
  const files = readdirSync(folder).filter((file) => file.endsWith('.ts') && file !== 'index.ts')
  const listed: readonly (Attempt | TxnAttempt)[] = [...ATTEMPTS, ...TXN_ATTEMPTS]
  assert.equal(files.length, listed.length, 'one file per listed attempt')
  for (const file of files) {
    const exported = Object.values(await import(new URL(file, folder).href)) as Attempt[]
    assert.equal(exported.length, 1, `${file} exports one attempt`)
    const attempt = exported[0]!
    assert.equal(attempt.id, file.replace(/\.ts$/, '').replaceAll('_', '-'), file)
    assert.equal(listed.filter((entry) => entry === attempt).length, 1, `${file} is listed once`)
    assert.equal(
      file.startsWith('txn_'),
      (TXN_ATTEMPTS as readonly unknown[]).includes(attempt),
      `${file}: txn_* attempts go in TXN_ATTEMPTS, the others in ATTEMPTS`,
    )
  }
  assert.equal(new Set(listed.map((attempt) => attempt.id)).size, listed.length)
})
