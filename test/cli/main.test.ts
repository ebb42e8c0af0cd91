/**
 * The CLI from any folder: defaults come from the package, data from the working directory;
 * `--version`; `start --help` lists what starts and the variables that change it; a stray argument
 * is refused rather than ignored. Run from a temporary folder, through the sources.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { loadEnv } from '../../src/config/env.js'
import { PACKAGE_ROOT, packageFile, packageVersion } from '../../src/config/package_files.js'

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const MAIN = join(REPO, 'src/cli/main.ts')
const elsewhere = mkdtempSync(join(tmpdir(), 'onbehalf-cwd-'))

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), MAIN, ...args],
      { cwd: elsewhere, env: { PATH: process.env.PATH ?? '' } },
    )
    return { code: 0, stdout, stderr }
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string }
    return { code, stdout, stderr }
  }
}

describe('onbehalf CLI from another folder', () => {
  after(() => rmSync(elsewhere, { recursive: true, force: true }))

  it('defaults are the files shipped with the package, data is in the working directory', () => {
    assert.equal(PACKAGE_ROOT, REPO)
    const env = loadEnv({})
    assert.equal(env.POLICY_FILE, join(REPO, 'config/policy.json'))
    assert.equal(env.USERS_FILE, join(REPO, 'config/users.json'))
    assert.equal(env.STS_CONFIG, join(REPO, 'deploy/sts/embedded.json'))
    for (const file of [env.POLICY_FILE, env.USERS_FILE, env.STS_CONFIG])
      assert.ok(existsSync(file))
    assert.equal(env.DATA_DIR, 'data')
    // A path the user gives stays theirs.
    assert.equal(loadEnv({ POLICY_FILE: 'mine.json' }).POLICY_FILE, 'mine.json')
  })

  it('--version prints the package version', async () => {
    const version = JSON.parse(readFileSync(packageFile('package.json'), 'utf8')).version
    assert.equal(packageVersion(), version)
    const { code, stdout } = await cli(['--version'])
    assert.equal(code, 0)
    assert.equal(stdout.trim(), version)
  })

  it('start --help lists every service, its variables and the resolved defaults', async () => {
    const { code, stdout } = await cli(['start', '--help'])
    assert.equal(code, 0)
    for (const line of [
      /^ {2}IdP {4}/m,
      /^ {2}STS {4}/m,
      /^ {2}App A {2}/m,
      /^ {2}App B {2}/m,
      /^ {2}App C {2}/m,
      /IDP_ISSUER=http:\/\/localhost:9000 {2}IDP_PORT=9000/,
      /APP_A_URL=http:\/\/localhost:3993 {2}APP_A_PORT=3993/,
      /^ {2}HOST {9}/m,
      /^ {2}IDP {10}/m,
    ]) {
      assert.match(stdout, line)
    }
    assert.ok(stdout.includes(`STS_CONFIG=${join(REPO, 'deploy/sts/embedded.json')}`), stdout)
    assert.ok(stdout.includes(`[${join(REPO, 'config/policy.json')}]`), stdout)
    assert.ok(stdout.includes(`data → ${join(elsewhere, 'data')}`), stdout)
    assert.equal(existsSync(join(elsewhere, 'data')), false, '--help starts nothing')
  })

  it('idp --help lists the IdP alone', async () => {
    const { code, stdout } = await cli(['idp', '--help'])
    assert.equal(code, 0)
    assert.match(stdout, /^usage: onbehalf idp$/m)
    assert.doesNotMatch(stdout, /App A/)
  })

  it('app-b --help lists App B alone, and an unexpected argument exits 2', async () => {
    const { code, stdout } = await cli(['app-b', '--help'])
    assert.equal(code, 0)
    assert.match(stdout, /^usage: onbehalf app-b$/m)
    assert.match(stdout, /APP_B_PORT=3994/)
    assert.doesNotMatch(stdout, /IDP_PORT|STS_ISSUER|APP_C_URL/)
    const wrong = await cli(['app-b', '--port', '1'])
    assert.equal(wrong.code, 2)
    assert.match(wrong.stderr, /usage: onbehalf app-b/)
    assert.equal(existsSync(join(elsewhere, 'data')), false)
  })

  it('start with an unexpected argument exits 2 with the usage and starts nothing', async () => {
    const { code, stderr } = await cli(['start', '--port', '1'])
    assert.equal(code, 2)
    assert.match(stderr, /unexpected argument --port/)
    assert.match(stderr, /usage: onbehalf start/)
    assert.equal(existsSync(join(elsewhere, 'data')), false)
  })
})
