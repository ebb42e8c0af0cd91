/**
 * Faults: two IdP instances as separate processes (`onbehalf idp`) behind nginx on PostgreSQL and
 * Redis, under a steady load of token exchanges through the load balancer. One instance is killed
 * with SIGKILL and restarted on its port: nginx routes around it, the only failures are requests
 * that were in flight on the killed process (at most the load's concurrency), and once restarted
 * the instance serves again from the shared state, without anyone else restarting.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { signInWithLoginForm } from '../../src/demo/form_login.js'
import { DEVELOPMENT_SECRETS } from '../../src/config/env.js'
import { GRANT_TYPE_TOKEN_EXCHANGE } from '../../src/exchange/token_exchange/types.js'
import { basicAuth } from '../helpers/stack.js'
import { postgresUnavailable, testSchema, type TestSchema } from '../helpers/postgres.js'
import { redisUnavailable, TEST_REDIS_URL } from '../helpers/redis.js'
import { freePort, NGINX, startNginx, type Nginx } from '../helpers/topology.js'
import { servicesRequired } from '../helpers/services.js'

const CONCURRENCY = 4
const skip =
  (await postgresUnavailable()) ??
  (await redisUnavailable()) ??
  (existsSync(NGINX) ? undefined : servicesRequired(`${NGINX} not installed`))

describe('kill -9 of an IdP instance under load', { skip, timeout: 240_000 }, () => {
  let schema: TestSchema
  let dir: string
  let nginx: Nginx
  let lb: string
  const ports: number[] = []
  const children: Array<ChildProcess | undefined> = []

  function env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      IDP_ISSUER: lb,
      APP_A_URL: 'http://127.0.0.1:3993',
      IDP_RATE_LIMITS: 'off',
      DATABASE_URL: schema.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `${schema.name}:`,
    }
  }

  async function startInstance(index: number): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'idp'], {
      env: { ...env(), IDP_PORT: String(ports[index]) },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    children[index] = child
    const deadline = Date.now() + 60_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`instance ${index} exited ${child.exitCode}`)
      try {
        if ((await fetch(`http://127.0.0.1:${ports[index]}/readyz`)).status === 200) return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`instance ${index} not ready within 60 s`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }

  before(async () => {
    schema = await testSchema()
    dir = mkdtempSync(join(tmpdir(), 'onbehalf-kill-'))
    ports.push(await freePort(), await freePort())
    const lbPort = await freePort()
    lb = `http://127.0.0.1:${lbPort}`
    nginx = await startNginx(dir, [{ name: 'idp', port: lbPort, upstreams: ports }])
    // Sequentially: the first creates the key and runs the migrations, as a rolling deploy would.
    await startInstance(0)
    await startInstance(1)
    // Each instance answers through the load balancer before the load starts (a port taken by
    // something else between freePort and the instance's bind would show here, with nginx's why).
    for (const index of [0, 1]) await readyThroughNginx(index)
    // And through the upstream group the load uses: nginx's own probe at its start found both
    // instances down and marks them failed for fail_timeout (2 s); a fast start lands inside it.
    await readyThroughNginx(undefined)
  })

  /** Ready through nginx: pinned to one instance, or (undefined) through the round-robin group. */
  async function readyThroughNginx(index: number | undefined): Promise<void> {
    const deadline = Date.now() + 30_000
    let last = ''
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${lb}/readyz`, {
          headers: index === undefined ? {} : { 'x-test-instance': String(index) },
        })
        if (res.status === 200) return
        last = `HTTP ${res.status}`
      } catch (error) {
        last = (error as Error).message
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    throw new Error(
      `${index === undefined ? 'the upstream group' : `instance ${index}`} not ready through nginx within 30 s (${last}); nginx: ${nginx.errorLogTail()}`,
    )
  }
  after(async () => {
    for (const child of children) child?.kill('SIGKILL')
    await nginx?.stop()
    await schema?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('when one instance is killed and restarted then only its in-flight requests fail and it serves again', async () => {
    const secret = DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET
    const { access_token: subject } = await signInWithLoginForm({
      authorizationEndpoint: `${lb}/auth`,
      tokenEndpoint: `${lb}/token`,
      clientId: 'app-a',
      clientSecret: secret,
      redirectUri: 'http://127.0.0.1:3993/auth/callback',
      scope: 'openid todos:read',
      username: 'demo',
      password: 'changeme',
    }).catch((error: Error) => {
      throw new Error(`${error.message}; nginx: ${nginx.errorLogTail()}`, { cause: error })
    })
    const outcomes = { ok: 0, serverError: 0, connectionError: 0, other: 0 }
    const latencies: number[] = []
    let running = true
    async function worker() {
      while (running) {
        const started = performance.now()
        try {
          const response = await fetch(`${lb}/token`, {
            method: 'POST',
            headers: {
              authorization: basicAuth('app-a', secret),
              'content-type': 'application/x-www-form-urlencoded',
            },
            body: new URLSearchParams({
              grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
              subject_token: subject,
              subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
              audience: 'app-b',
              scope: 'todos:read',
            }),
          })
          await response.arrayBuffer()
          if (response.status === 200) outcomes.ok++
          else if (response.status >= 500) outcomes.serverError++
          else outcomes.other++
        } catch {
          outcomes.connectionError++
        }
        latencies.push(performance.now() - started)
      }
    }
    const workers = Array.from({ length: CONCURRENCY }, worker)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const beforeKill = outcomes.ok
    children[0]!.kill('SIGKILL')
    const killedAt = performance.now()
    await new Promise((resolve) => setTimeout(resolve, 3000))
    await startInstance(0)
    // The instance is down from the kill until its restart is ready: count what succeeded then
    // (a fixed 3 s window can fall inside a stall of the loaded machine and count nothing).
    const duringOutage = outcomes.ok - beforeKill
    const recoveredMs = performance.now() - killedAt
    const restartedPort = ports[0]!
    await new Promise((resolve) => setTimeout(resolve, 2000))
    running = false
    await Promise.all(workers)

    latencies.sort((a, b) => a - b)
    const p = (q: number) => Math.round(latencies[Math.floor(q * (latencies.length - 1))]!)
    console.log(
      `kill -9 under load: ${latencies.length} exchanges, ${JSON.stringify(outcomes)}, ` +
        `${duringOutage} ok while one instance was down, restarted and ready after ${Math.round(recoveredMs)} ms, ` +
        `latency p50 ${p(0.5)} ms p99 ${p(0.99)} ms`,
    )
    assert.ok(
      beforeKill > 0 && duringOutage > 0,
      'exchanges kept succeeding while one instance was down',
    )
    assert.equal(outcomes.other, 0, 'no exchange refused')
    assert.equal(outcomes.connectionError, 0, 'the load balancer always answered')
    assert.ok(
      outcomes.serverError <= CONCURRENCY,
      `at most the requests in flight on the killed instance fail (${outcomes.serverError})`,
    )
    // The restarted instance serves exchanges itself, from the shared state.
    const direct = await fetch(`http://127.0.0.1:${restartedPort}/token`, {
      method: 'POST',
      headers: {
        authorization: basicAuth('app-a', secret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        audience: 'app-b',
      }),
    })
    assert.equal(
      direct.status,
      200,
      'the restarted instance knows the token issued before the kill',
    )
  })
})
