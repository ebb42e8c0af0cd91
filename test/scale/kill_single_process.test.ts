/**
 * The embedded default, one process on SQLite (`onbehalf start`, no DATABASE_URL, no Redis): todo
 * writes with an Idempotency-Key through the client kit while the process runs; `kill -9` in the
 * middle of them; restart on the same DATA_DIR. Every write App B acknowledged (2xx) before the
 * kill is in `app-b.sqlite` afterwards, none twice; the writes that were in flight are sent again
 * with their key after the restart and are stored at most once.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { createRetryingFetch, createTokenExchangeClient } from '../../src/client/index.js'
import { DEVELOPMENT_SECRETS } from '../../src/config/env.js'
import { signInWithLoginForm } from '../../src/demo/form_login.js'
import { freePort, writeWritablePolicy } from '../helpers/topology.js'

const SECRET = DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET
const WRITERS = 3

describe('kill -9 of the single process on SQLite', { timeout: 300_000 }, () => {
  let dir: string
  let child: ChildProcess | undefined
  const ports = { IDP: 0, STS: 0, APP_A: 0, APP_B: 0, APP_C: 0 }
  const url = (name: keyof typeof ports) => `http://127.0.0.1:${ports[name]}`

  async function start(): Promise<void> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      POLICY_FILE: writeWritablePolicy(dir),
      IDP_RATE_LIMITS: 'off',
      IDP_ISSUER: url('IDP'),
      STS_ISSUER: url('STS'),
      APP_A_URL: url('APP_A'),
      APP_B_URL: url('APP_B'),
      APP_C_URL: url('APP_C'),
    }
    delete env.DATABASE_URL
    delete env.REDIS_URL
    for (const [name, port] of Object.entries(ports)) env[`${name}_PORT`] = String(port)
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start'], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    const deadline = Date.now() + 120_000
    for (const service of ['IDP', 'APP_B'] as const) {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`onbehalf start exited ${child.exitCode}`)
        try {
          const response = await fetch(`${url(service)}/readyz`)
          await response.arrayBuffer()
          if (response.status === 200) break
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`${service} not ready within 120 s`)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onbehalf-kill-sqlite-'))
    for (const name of Object.keys(ports) as Array<keyof typeof ports>) {
      ports[name] = await freePort()
    }
    await start()
  })
  after(() => {
    child?.kill('SIGKILL')
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('when the process is killed during writes and restarted then every acknowledged write is stored once', async () => {
    const { access_token: subject } = await signInWithLoginForm({
      authorizationEndpoint: `${url('IDP')}/auth`,
      tokenEndpoint: `${url('IDP')}/token`,
      clientId: 'app-a',
      clientSecret: SECRET,
      redirectUri: `${url('APP_A')}/auth/callback`,
      scope: 'openid todos:read todos:write',
      username: 'demo',
      password: 'changeme',
    })
    const { accessToken, claims } = await createTokenExchangeClient({
      tokenEndpoint: `${url('IDP')}/token`,
      clientId: 'app-a',
      clientSecret: SECRET,
    }).exchange({ subjectToken: subject, audience: 'app-b', scope: 'todos:read todos:write' })
    const owner = claims?.sub as string
    let retried = 0
    const writeFetch = createRetryingFetch({ onRetry: () => retried++ })
    const acknowledged = new Set<string>()
    /** Writes whose answer never came (in flight at the kill): title → its key. */
    const unanswered = new Map<string, string>()
    const write = async (title: string, key: string) => {
      const response = await writeFetch(`${url('APP_B')}/api/todos`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${accessToken}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify({ title }),
        signal: AbortSignal.timeout(30_000),
      })
      await response.arrayBuffer()
      return response.status
    }
    let running = true
    const writers = Array.from({ length: WRITERS }, async () => {
      while (running) {
        const title = `sqlite ${randomUUID()}`
        const key = randomUUID()
        try {
          const status = await write(title, key)
          if (status === 201 || status === 200) acknowledged.add(title)
          else unanswered.set(title, key)
        } catch {
          unanswered.set(title, key)
        }
      }
    })
    // Counted, not timed: kill once 50 writes were acknowledged, however slow the machine is.
    const deadline = Date.now() + 120_000
    while (acknowledged.size < 50 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.ok(acknowledged.size >= 50, `writes acknowledged before the kill: ${acknowledged.size}`)
    child!.kill('SIGKILL')
    const killedAt = performance.now()
    await new Promise((resolve) => child!.once('exit', resolve))
    running = false
    await Promise.all(writers)
    const acknowledgedBeforeKill = new Set(acknowledged)
    await start()
    const restartedMs = Math.round(performance.now() - killedAt)
    // The writes that got no answer are sent again with their key: stored at most once.
    for (const [title, key] of unanswered) {
      const status = await write(title, key)
      assert.ok(status === 201 || status === 200, `retry after the restart answered ${status}`)
    }

    const db = new Database(join(dir, 'data', 'app-b.sqlite'), { readonly: true })
    const rows = db
      .prepare('SELECT title, count(*) AS n FROM todos WHERE owner_sub = ? GROUP BY title')
      .all(owner) as Array<{ title: string; n: number }>
    db.close()
    const stored = new Map(rows.map((row) => [row.title, row.n]))
    const lost = [...acknowledgedBeforeKill].filter((title) => !stored.has(title))
    const doubled = rows.filter((row) => row.n > 1)
    console.log(
      `kill -9 of the single SQLite process: ${acknowledgedBeforeKill.size} writes acknowledged ` +
        `before the kill, ${unanswered.size} in flight (sent again after the restart), ` +
        `${retried} retried by the client kit, ${stored.size} stored, lost ${lost.length}, ` +
        `doubled ${doubled.length}, restarted and ready ${restartedMs} ms after the kill`,
    )
    assert.deepEqual(lost, [], 'every write acknowledged before the kill is in app-b.sqlite')
    assert.deepEqual(doubled, [], 'no todo stored twice')
    for (const title of unanswered.keys()) assert.equal(stored.get(title), 1, title)
    assert.equal(stored.size, acknowledgedBeforeKill.size + unanswered.size)
  })
})
