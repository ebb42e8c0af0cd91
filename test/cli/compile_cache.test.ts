/**
 * The compiled CLI turns on V8's compile cache where Node.js has it (≥ 22.1) and leaves it off
 * when NODE_DISABLE_COMPILE_CACHE is set; on Node 20 it still runs and writes no cache. Runs
 * dist/ (what `npm start` and `onbehalf` run), each time with a fresh TMPDIR so the cache it
 * finds is the one this run wrote.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import module from 'node:module'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
const nodeHasCompileCache =
  typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function'
const folders: string[] = []

async function startHelpWithTmp(extraEnv: Record<string, string>): Promise<string> {
  const tmp = mkdtempSync(join(tmpdir(), 'onbehalf-compile-cache-'))
  folders.push(tmp)
  const { stdout } = await promisify(execFile)(process.execPath, [MAIN, 'start', '--help'], {
    cwd: tmp,
    env: { PATH: process.env.PATH ?? '', TMPDIR: tmp, ...extraEnv },
  })
  assert.match(stdout, /onbehalf start/)
  return join(tmp, 'node-compile-cache')
}

describe('compile cache of the CLI', () => {
  after(() => {
    for (const folder of folders) rmSync(folder, { recursive: true, force: true })
  })

  it('whenTheCliRunsThenV8sCompileCacheIsWrittenWhereNodeHasIt', async () => {
    const cache = await startHelpWithTmp({})
    if (nodeHasCompileCache) {
      assert.ok(existsSync(cache), 'no node-compile-cache folder in TMPDIR')
      assert.ok(readdirSync(cache, { recursive: true }).length > 0, 'the cache folder is empty')
    } else {
      assert.equal(existsSync(cache), false, 'Node 20 has no compile cache, yet one was written')
    }
  })

  it('whenNodeDisableCompileCacheIsSetThenNoCacheIsWritten', async () => {
    const cache = await startHelpWithTmp({ NODE_DISABLE_COMPILE_CACHE: '1' })
    assert.equal(existsSync(cache), false)
  })
})
