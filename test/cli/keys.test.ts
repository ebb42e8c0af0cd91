/**
 * Issue 12, item 6: `onbehalf keys rotate` (and `onbehalf sts rotate-keys`) run as a user runs
 * them, in their own process: with a DATA_DIR that holds no key store, or from another folder,
 * they refuse with a message naming the path and exit non-zero, creating nothing; `--create`
 * starts a key store on purpose; on an existing store they rotate.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, describe, it } from 'node:test'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MAIN = join(ROOT, 'src/cli/main.ts')
const TSX = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href

const folders: string[] = []
after(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true })
})
function tempFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'onbehalf-cli-keys-'))
  folders.push(folder)
  return folder
}

interface Outcome {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

function onbehalf(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return new Promise<Outcome>((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX, MAIN, ...args],
      {
        cwd: options.cwd ?? ROOT,
        env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', ...options.env },
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

const keysIn = (file: string) =>
  (JSON.parse(readFileSync(file, 'utf8')) as { keys: Array<{ kid: string }> }).keys.map(
    (key) => key.kid,
  )

describe('onbehalf keys rotate', { concurrency: true }, () => {
  it('when DATA_DIR holds no key store then it refuses, names the path, exits 1 and creates nothing', async () => {
    const dataDir = tempFolder()
    const outcome = await onbehalf(['keys', 'rotate'], { env: { DATA_DIR: dataDir } })
    assert.equal(outcome.code, 1)
    assert.match(
      outcome.stderr,
      new RegExp(`no IdP signing keys at ${join(dataDir, 'idp-keys.json')}`),
    )
    assert.match(outcome.stderr, /--create/)
    assert.doesNotMatch(outcome.stdout, /active signing key/)
    assert.equal(existsSync(join(dataDir, 'idp-keys.json')), false)
  })

  it('when run from another folder (relative DATA_DIR) then it refuses and creates no data folder there', async () => {
    const elsewhere = tempFolder()
    const outcome = await onbehalf(['keys', 'rotate'], { cwd: elsewhere, env: { DATA_DIR: '' } })
    assert.equal(outcome.code, 1)
    assert.match(outcome.stderr, new RegExp(`resolved from ${elsewhere}`))
    assert.equal(existsSync(join(elsewhere, 'data')), false)
  })

  it('with --create it starts a key store; then a rotation keeps the old key published', async () => {
    const dataDir = tempFolder()
    const file = join(dataDir, 'idp-keys.json')
    const created = await onbehalf(['keys', 'rotate', '--create'], { env: { DATA_DIR: dataDir } })
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, /created IdP signing keys/)
    const [first] = keysIn(file)
    const rotated = await onbehalf(['keys', 'rotate'], { env: { DATA_DIR: dataDir } })
    assert.equal(rotated.code, 0, rotated.stderr)
    const [active, retired] = keysIn(file)
    assert.equal(retired, first)
    assert.match(rotated.stdout, new RegExp(`active signing key: ${active}`))
    assert.match(rotated.stdout, /no restart needed/)
  })

  it('an unknown option is a usage error (exit 2)', async () => {
    const outcome = await onbehalf(['keys', 'rotate', '--force'], {
      env: { DATA_DIR: tempFolder() },
    })
    assert.equal(outcome.code, 2)
    assert.match(outcome.stderr, /usage: onbehalf keys rotate \[--create\]/)
  })
})

describe('onbehalf sts rotate-keys', () => {
  it('when the key directory holds no key store then it refuses; --create starts one', async () => {
    const dataDir = tempFolder()
    const args = ['sts', 'rotate-keys', '--config', 'deploy/sts/embedded.json']
    const refused = await onbehalf(args, { env: { DATA_DIR: dataDir } })
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /no STS signing keys at .*sts-keys\.json/)
    assert.equal(existsSync(join(dataDir, 'sts', 'sts-keys.json')), false)
    const created = await onbehalf([...args, '--create'], { env: { DATA_DIR: dataDir } })
    assert.equal(created.code, 0, created.stderr)
    assert.equal(keysIn(join(dataDir, 'sts', 'sts-keys.json')).length, 1)
  })
})
