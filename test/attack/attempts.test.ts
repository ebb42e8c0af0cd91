/**
 * The attempt list: every file in src/attack/attempts/ is one attempt and is listed in ATTEMPTS
 * (a new attempt cannot be forgotten), its id is its file name, and ids are unique.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { test } from 'node:test'
import { ATTEMPTS, type Attempt } from '../../src/attack/index.js'

const folder = new URL('../../src/attack/attempts/', import.meta.url)

test('every attempt file exports one attempt named after it, listed once in ATTEMPTS', async () => {
  const files = readdirSync(folder).filter((file) => file.endsWith('.ts') && file !== 'index.ts')
  assert.equal(files.length, ATTEMPTS.length, 'one file per listed attempt')
  for (const file of files) {
    const exported = Object.values(await import(new URL(file, folder).href)) as Attempt[]
    assert.equal(exported.length, 1, `${file} exports one attempt`)
    const attempt = exported[0]!
    assert.equal(attempt.id, file.replace(/\.ts$/, '').replaceAll('_', '-'), file)
    assert.ok(ATTEMPTS.includes(attempt), `${file} is listed in ATTEMPTS`)
  }
  assert.equal(new Set(ATTEMPTS.map((attempt) => attempt.id)).size, ATTEMPTS.length)
})
