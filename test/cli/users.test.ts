/**
 * `onbehalf users hash-password`, run as a user runs it: the password comes from standard input,
 * the printed hash is one the IdP's user directory accepts for that password and no other, and the
 * password never appears in what the command prints.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, describe, it } from 'node:test'
import { loadUserDirectory } from '../../src/idp/users.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MAIN = join(ROOT, 'src/cli/main.ts')
const TSX = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href

const folder = mkdtempSync(join(tmpdir(), 'onbehalf-cli-users-'))
after(() => rmSync(folder, { recursive: true, force: true }))

function onbehalf(args: string[], stdin: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

describe('onbehalf users hash-password', () => {
  it('WhenAPasswordIsPiped_ThenTheHashSignsInThatUserAndNoOtherPassword', async () => {
    const password = 'correct horse battery staple'
    const outcome = await onbehalf(['users', 'hash-password'], `${password}\n`)
    assert.equal(outcome.code, 0, outcome.stderr)
    const hash = outcome.stdout.trim()
    assert.match(hash, /^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/)
    assert.ok(!outcome.stdout.includes(password) && !outcome.stderr.includes(password))

    const file = join(folder, 'users.json')
    writeFileSync(
      file,
      JSON.stringify({
        users: [
          {
            sub: 'u-1',
            username: 'newcomer',
            name: 'New',
            email: 'n@example.test',
            passwordHash: hash,
          },
        ],
      }),
    )
    const users = loadUserDirectory(file)
    assert.equal((await users.authenticate('newcomer', password))?.sub, 'u-1')
    assert.equal(await users.authenticate('newcomer', `${password}\n`), undefined)
    assert.equal(await users.authenticate('newcomer', 'correct horse battery'), undefined)
  })

  it('WhenStandardInputIsEmpty_ThenItExitsWithUsageAndPrintsNoHash', async () => {
    const outcome = await onbehalf(['users', 'hash-password'], '')
    assert.equal(outcome.code, 2)
    assert.equal(outcome.stdout, '')
    assert.match(outcome.stderr, /empty password/)
  })

  it('WhenThePasswordIsGivenAsAnArgument_ThenItRefusesSoItStaysOutOfShellHistory', async () => {
    const outcome = await onbehalf(['users', 'hash-password', 'hunter2'], 'hunter2\n')
    assert.equal(outcome.code, 2)
    assert.equal(outcome.stdout, '')
    assert.match(outcome.stderr, /reads the password from standard input/)
  })
})
