/**
 * Faults under load. Two IdP, two STS and two App B instances as separate processes (`onbehalf
 * idp`, `onbehalf sts`, `onbehalf app-b`) behind nginx, on one PostgreSQL schema and one Redis
 * prefix. A steady load runs through the load balancer: real form sign-ins, token exchanges at the
 * IdP and at the STS (the client kit, with its one retry) and todo writes to App B (each with its
 * own Idempotency-Key, through the client kit's retrying fetch). One instance of each kind in turn
 * gets `kill -9` and is restarted on its port. Then:
 *
 * - every todo write App B acknowledged (2xx) is in the database, and no todo is there twice;
 * - exchanges and writes fail only when they were in flight on the killed instance and the
 *   client kit's retry failed too: at most the load's concurrency per kill, usually none;
 * - the restarted instance is ready again and serves from the shared state.
 *
 * Counted over windows, not timed: a heavily loaded 2-core machine may stall for seconds, so each
 * phase waits for a number of successes (with a generous deadline), never for a fixed time.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { createRetryingFetch, createTokenExchangeClient } from '../../src/client/index.js'
import { DEVELOPMENT_SECRETS } from '../../src/config/env.js'
import { signInWithLoginForm } from '../../src/demo/form_login.js'
import { postgresUnavailable, testSchema, type TestSchema } from '../helpers/postgres.js'
import { redisUnavailable, TEST_REDIS_URL } from '../helpers/redis.js'
import { servicesRequired } from '../helpers/services.js'
import {
  freePort,
  NGINX,
  startNginx,
  writeWritablePolicy,
  type Nginx,
} from '../helpers/topology.js'

const skip =
  (await postgresUnavailable()) ??
  (await redisUnavailable()) ??
  (existsSync(NGINX) ? undefined : servicesRequired(`${NGINX} not installed`))

type Kind = 'idp' | 'sts' | 'appB'
const KINDS: readonly Kind[] = ['idp', 'sts', 'appB']
const SECRET = DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET
const REDIRECT_URI = 'http://127.0.0.1:3993/auth/callback'
/** Concurrent callers of each kind of request. */
const LOAD = { signIn: 1, idpExchange: 2, stsExchange: 2, write: 2 }

interface Counter {
  ok: number
  failed: number
  retried: number
  failures: string[]
}

const counter = (): Counter => ({ ok: 0, failed: 0, retried: 0, failures: [] })

describe('kill -9 of one instance of each kind under load', { skip, timeout: 600_000 }, () => {
  let schema: TestSchema
  let dir: string
  let nginx: Nginx
  const lb = { idp: '', sts: '', appB: '' }
  const ports: Record<Kind, number[]> = { idp: [], sts: [], appB: [] }
  const children: Record<Kind, Array<ChildProcess | undefined>> = { idp: [], sts: [], appB: [] }
  let policyFile: string

  function env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      IDP_ISSUER: lb.idp,
      STS_ISSUER: lb.sts,
      APP_A_URL: 'http://127.0.0.1:3993',
      APP_B_URL: lb.appB,
      POLICY_FILE: policyFile,
      IDP_RATE_LIMITS: 'off',
      DATABASE_URL: schema.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `${schema.name}:`,
    }
  }

  function stsConfigFile(index: number): string {
    const file = join(dir, `sts-${index}.json`)
    writeFileSync(
      file,
      JSON.stringify({
        issuer: lb.sts,
        host: '127.0.0.1',
        port: ports.sts[index],
        // The load comes from one address through nginx: the per-IP limit would count it all.
        tokenRequestsPerMinutePerIp: 0,
        keys: { directory: join(dir, 'sts-keys') },
        upstreams: {
          embedded: {
            issuer: lb.idp,
            algorithms: ['ES256'],
            acceptedTypes: ['at+jwt'],
            clients: { 'app-a': 'app-a' },
          },
        },
        targets: {
          'app-b': { resourceUris: [lb.appB], scopes: ['todos:read', 'todos:write'] },
        },
        clients: {
          'app-a': {
            secretEnv: 'APP_A_CLIENT_SECRET',
            tokenExchange: {
              enabled: true,
              allowedAudiences: ['app-b'],
              scopeCeiling: ['todos:read'],
              mode: 'delegation',
            },
          },
        },
      }),
    )
    return file
  }

  /** Starts instance `index` of `kind` on its port; resolves once its /readyz answers 200. */
  async function startInstance(kind: Kind, index: number): Promise<void> {
    const port = ports[kind][index]!
    const args =
      kind === 'idp'
        ? ['idp']
        : kind === 'sts'
          ? ['sts', '--config', stsConfigFile(index)]
          : ['app-b']
    const portEnv = kind === 'idp' ? { IDP_PORT: String(port) } : { APP_B_PORT: String(port) }
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: { ...env(), ...portEnv },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    children[kind][index] = child
    const deadline = Date.now() + 120_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${kind} ${index} exited ${child.exitCode}`)
      try {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`)
        await response.arrayBuffer()
        if (response.status === 200) return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${kind} ${index} not ready within 120 s`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }

  before(async () => {
    schema = await testSchema()
    dir = mkdtempSync(join(tmpdir(), 'onbehalf-faults-'))
    policyFile = writeWritablePolicy(dir)
    for (const kind of KINDS) ports[kind].push(await freePort(), await freePort())
    const lbPorts = { idp: await freePort(), sts: await freePort(), appB: await freePort() }
    for (const kind of KINDS) lb[kind] = `http://127.0.0.1:${lbPorts[kind]}`
    nginx = await startNginx(dir, [
      { name: 'idp', port: lbPorts.idp, upstreams: ports.idp },
      { name: 'sts', port: lbPorts.sts, upstreams: ports.sts },
      { name: 'app_b', port: lbPorts.appB, upstreams: ports.appB },
    ])
    // The first IdP creates the key and runs the migrations, as the first of a rolling deploy.
    await startInstance('idp', 0)
    await Promise.all([
      startInstance('idp', 1),
      startInstance('sts', 0),
      startInstance('sts', 1),
      startInstance('appB', 0),
      startInstance('appB', 1),
    ])
  })

  after(async () => {
    for (const kind of KINDS) for (const child of children[kind]) child?.kill('SIGKILL')
    await nginx?.stop()
    await schema?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('when an IdP, an STS and an App B instance are killed and restarted then no acknowledged write is lost or doubled and only in-flight requests fail', async () => {
    const retryingFetch = (c: Counter) => createRetryingFetch({ onRetry: () => c.retried++ })
    const signIn = (scope: string, c?: Counter) =>
      signInWithLoginForm({
        authorizationEndpoint: `${lb.idp}/auth`,
        tokenEndpoint: `${lb.idp}/token`,
        clientId: 'app-a',
        clientSecret: SECRET,
        redirectUri: REDIRECT_URI,
        scope,
        username: 'demo',
        password: 'changeme',
        timeoutMs: 30_000,
        // GETs of the sign-in are retried once; the login POST (no Idempotency-Key) never is.
        ...(c ? { fetch: retryingFetch(c) } : {}),
      })
    const { access_token: subject } = await signIn('openid todos:read todos:write')
    const counts = {
      signIn: counter(),
      idpExchange: counter(),
      stsExchange: counter(),
      write: counter(),
    }
    const exchanger = (tokenEndpoint: string, c: Counter) =>
      createTokenExchangeClient({
        tokenEndpoint,
        clientId: 'app-a',
        clientSecret: SECRET,
        timeoutMs: 30_000,
        onRetry: () => c.retried++,
      })
    const idpExchanger = exchanger(`${lb.idp}/token`, counts.idpExchange)
    const stsExchanger = exchanger(`${lb.sts}/token`, counts.stsExchange)
    const { accessToken: writeToken, claims } = await idpExchanger.exchange({
      subjectToken: subject,
      audience: 'app-b',
      scope: 'todos:read todos:write',
    })
    const owner = claims?.sub as string
    /** Titles App B acknowledged (2xx), and every title sent (one key each). */
    const acknowledged = new Set<string>()
    const sent: string[] = []
    const writeFetch = retryingFetch(counts.write)

    let running = true
    const record = async (c: Counter, work: () => Promise<void>) => {
      try {
        await work()
        c.ok++
      } catch (error) {
        c.failed++
        if (c.failures.length < 10) c.failures.push((error as Error).message)
      }
    }
    const loops = {
      signIn: async () => {
        await record(counts.signIn, async () => {
          await signIn('openid todos:read', counts.signIn)
        })
      },
      idpExchange: () =>
        record(counts.idpExchange, async () => {
          await idpExchanger.exchange({
            subjectToken: subject,
            audience: 'app-b',
            scope: 'todos:read',
          })
        }),
      stsExchange: () =>
        record(counts.stsExchange, async () => {
          await stsExchanger.exchange({
            subjectToken: subject,
            audience: 'app-b',
            scope: 'todos:read',
          })
        }),
      write: () =>
        record(counts.write, async () => {
          const title = `fault ${randomUUID()}`
          sent.push(title)
          const response = await writeFetch(`${lb.appB}/api/todos`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${writeToken}`,
              'content-type': 'application/json',
              'idempotency-key': randomUUID(),
            },
            body: JSON.stringify({ title }),
            signal: AbortSignal.timeout(30_000),
          })
          const text = await response.text()
          if (response.status !== 201 && response.status !== 200) {
            throw new Error(`write answered ${response.status}: ${text.slice(0, 120)}`)
          }
          acknowledged.add(title)
        }),
    }
    const workers = (Object.keys(LOAD) as Array<keyof typeof LOAD>).flatMap((name) =>
      Array.from({ length: LOAD[name] }, async () => {
        while (running) await loops[name]()
      }),
    )

    /** Waits until every kind of request has succeeded `n` more times (deadline: 120 s). */
    async function progress(n: number, what: string) {
      const start = Object.fromEntries(
        Object.entries(counts).map(([name, c]) => [name, c.ok]),
      ) as Record<keyof typeof counts, number>
      const deadline = Date.now() + 120_000
      while (
        Object.entries(counts).some(([name, c]) => c.ok - start[name as keyof typeof counts] < n)
      ) {
        if (Date.now() > deadline) {
          throw new Error(`no progress ${what} within 120 s: ${JSON.stringify(counts)}`)
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }

    const recovery: Record<string, { servedAfterKillMs: number; restartedReadyMs: number }> = {}
    try {
      await progress(3, 'before any kill')
      for (const kind of KINDS) {
        const killedAt = performance.now()
        children[kind][0]!.kill('SIGKILL')
        await new Promise((resolve) => children[kind][0]!.once('exit', resolve))
        // The other instance carries the load alone: every kind of request keeps succeeding.
        await progress(3, `with ${kind} 0 killed`)
        const servedAfterKillMs = performance.now() - killedAt
        await startInstance(kind, 0)
        recovery[kind] = {
          servedAfterKillMs: Math.round(servedAfterKillMs),
          restartedReadyMs: Math.round(performance.now() - killedAt),
        }
        await progress(3, `after ${kind} 0 restarted`)
      }
    } finally {
      running = false
      await Promise.all(workers)
    }

    // What App B stored: every acknowledged title once, nothing twice.
    const client = new pg.Client({ connectionString: schema.url })
    await client.connect()
    let stored: Map<string, number>
    try {
      const { rows } = await client.query<{ title: string; n: number }>(
        'SELECT title, count(*)::int AS n FROM todos WHERE owner_sub = $1 GROUP BY title',
        [owner],
      )
      stored = new Map(rows.map((row) => [row.title, row.n]))
    } finally {
      await client.end()
    }
    const lost = [...acknowledged].filter((title) => !stored.has(title))
    const doubled = [...stored].filter(([, n]) => n > 1)
    const summary = Object.fromEntries(
      Object.entries(counts).map(([name, c]) => [
        name,
        { requests: c.ok + c.failed, ok: c.ok, failed: c.failed, retried: c.retried },
      ]),
    )
    console.log(
      `kill -9 of one IdP, one STS and one App B under load: ${JSON.stringify(summary)}; ` +
        `writes sent ${sent.length}, acknowledged ${acknowledged.size}, stored ${stored.size}, ` +
        `lost ${lost.length}, doubled ${doubled.length}; recovery (ms after the kill) ${JSON.stringify(recovery)}`,
    )
    assert.deepEqual(lost, [], 'every acknowledged todo write is in the database')
    assert.deepEqual(doubled, [], 'no todo is stored twice')
    for (const title of stored.keys()) assert.ok(sent.includes(title), `stored ${title} was sent`)
    // Each kill can fail at most the requests in flight on that instance whose one retry also
    // failed: never more than the concurrency of that kind of request (usually none).
    assert.ok(
      counts.idpExchange.failed <= LOAD.idpExchange,
      `IdP exchanges failed: ${counts.idpExchange.failed} ${counts.idpExchange.failures}`,
    )
    assert.ok(
      counts.stsExchange.failed <= LOAD.stsExchange,
      `STS exchanges failed: ${counts.stsExchange.failed} ${counts.stsExchange.failures}`,
    )
    assert.ok(
      counts.write.failed <= LOAD.write,
      `writes failed: ${counts.write.failed} ${counts.write.failures}`,
    )
    // A sign-in is several requests; its login POST is not retried (not idempotent).
    assert.ok(
      counts.signIn.failed <= LOAD.signIn,
      `sign-ins failed: ${counts.signIn.failed} ${counts.signIn.failures}`,
    )
    // The restarted instances serve themselves, from the shared state.
    const direct = await createTokenExchangeClient({
      tokenEndpoint: `http://127.0.0.1:${ports.idp[0]}/token`,
      clientId: 'app-a',
      clientSecret: SECRET,
    }).exchange({ subjectToken: subject, audience: 'app-b', scope: 'todos:read' })
    assert.ok(direct.accessToken)
    const listed = await fetch(`http://127.0.0.1:${ports.appB[0]}/api/todos`, {
      headers: { authorization: `Bearer ${writeToken}` },
    })
    assert.equal(listed.status, 200)
    const titles = ((await listed.json()) as { todos: Array<{ title: string }> }).todos.map(
      (todo) => todo.title,
    )
    for (const title of acknowledged)
      assert.ok(titles.includes(title), 'the restarted App B lists it')
  })
})
