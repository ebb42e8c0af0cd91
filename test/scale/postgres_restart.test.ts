/**
 * PostgreSQL restarted under load. The IdP and App B run on a PostgreSQL server of this test's own
 * (test/helpers/private_postgres.ts; the machine's shared one is never touched). Under a steady
 * load of exchanges at the IdP and todo writes at App B, the server is stopped (`pg_ctl stop -m
 * fast`) and started again. Neither service is restarted. During the outage every request is
 * answered, in time, 503 `temporarily_unavailable` — never a 500, never a hang — and `/readyz`
 * says 503; once the server is back the pools reconnect, `/readyz` says 200 again and requests
 * succeed. Every acknowledged write is in the database afterwards, none twice.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { buildAppB } from '../../src/apps/app-b/app.js'
import { createTokenExchangeClient } from '../../src/client/index.js'
import { loadEnv, type Env } from '../../src/config/env.js'
import { signInWithLoginForm } from '../../src/demo/form_login.js'
import { GRANT_TYPE_TOKEN_EXCHANGE } from '../../src/exchange/token_exchange/types.js'
import { buildIdp } from '../../src/idp/app.js'
import { createLogger } from '../../src/log/logger.js'
import { bindSocket, type BoundSocket } from '../helpers/listen.js'
import {
  privatePostgresUnavailable,
  startPrivatePostgres,
  type PrivatePostgres,
} from '../helpers/private_postgres.js'
import { basicAuth } from '../helpers/stack.js'
import { writeWritablePolicy } from '../helpers/topology.js'

const skip = privatePostgresUnavailable()
/** No request may take longer than this, outage or not ("never hang"). */
const REQUEST_DEADLINE_MS = 20_000

type Outcome = 'ok' | '503' | '500' | 'other' | 'hung' | 'connection'
type Tally = Record<Outcome, number>
const tally = (): Tally => ({ ok: 0, '503': 0, '500': 0, other: 0, hung: 0, connection: 0 })

describe('PostgreSQL restarted under load', { skip, timeout: 300_000 }, () => {
  let server: PrivatePostgres
  let dir: string
  let env: Env
  const sockets: BoundSocket[] = []
  const apps: FastifyInstance[] = []
  let idpUrl: string
  let appBUrl: string

  before(async () => {
    server = await startPrivatePostgres()
    dir = mkdtempSync(join(tmpdir(), 'onbehalf-pg-restart-'))
    const idpSocket = await bindSocket()
    const appBSocket = await bindSocket()
    sockets.push(idpSocket, appBSocket)
    idpUrl = idpSocket.url
    appBUrl = appBSocket.url
    env = loadEnv({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: join(dir, 'data'),
      IDP_ISSUER: idpUrl,
      APP_B_URL: appBUrl,
      POLICY_FILE: writeWritablePolicy(dir),
      IDP_RATE_LIMITS: 'off',
      DATABASE_URL: server.url,
    })
    const logger = createLogger({ level: env.LOG_LEVEL })
    const idp = await buildIdp({ env, logger })
    apps.push(idp.app)
    await idpSocket.serve(idp.app)
    const appB = await buildAppB({ env, logger })
    apps.push(appB)
    await appBSocket.serve(appB)
  })

  after(async () => {
    for (const socket of sockets) await socket.close()
    for (const app of apps.reverse()) await app.close().catch(() => {})
    await server?.destroy()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('when PostgreSQL stops and starts again then the services answer 503 meanwhile and recover by themselves', async () => {
    const { access_token: subject } = await signInWithLoginForm({
      authorizationEndpoint: `${idpUrl}/auth`,
      tokenEndpoint: `${idpUrl}/token`,
      clientId: 'app-a',
      clientSecret: env.APP_A_CLIENT_SECRET,
      redirectUri: `${env.APP_A_URL}/auth/callback`,
      scope: 'openid todos:read todos:write',
      username: 'demo',
      password: 'changeme',
    })
    const { accessToken: writeToken, claims } = await createTokenExchangeClient({
      tokenEndpoint: `${idpUrl}/token`,
      clientId: 'app-a',
      clientSecret: env.APP_A_CLIENT_SECRET,
    }).exchange({ subjectToken: subject, audience: 'app-b', scope: 'todos:read todos:write' })

    const counts = { exchange: tally(), write: tally() }
    const ready = { idp: [] as number[], appB: [] as number[] }
    const acknowledged = new Set<string>()
    let phase: 'before' | 'outage' | 'after' = 'before'
    const okAfter = { exchange: 0, write: 0 }

    async function timed(url: string, init: RequestInit): Promise<Response | Outcome> {
      try {
        const response = await fetch(url, {
          ...init,
          signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
        })
        await response.clone().arrayBuffer()
        return response
      } catch (error) {
        return (error as Error).name === 'TimeoutError' ? 'hung' : 'connection'
      }
    }
    function classify(answer: Response | Outcome, okStatus: number[]): Outcome {
      if (typeof answer === 'string') return answer
      if (okStatus.includes(answer.status)) return 'ok'
      if (answer.status === 503) return '503'
      if (answer.status >= 500) return '500'
      return 'other'
    }
    const loops = {
      exchange: async () => {
        const answer = await timed(`${idpUrl}/token`, {
          method: 'POST',
          headers: {
            authorization: basicAuth('app-a', env.APP_A_CLIENT_SECRET),
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
        const outcome = classify(answer, [200])
        if (outcome === '503' && typeof answer !== 'string') {
          const body = (await answer.json()) as { error?: string; access_token?: string }
          assert.equal(body.error, 'temporarily_unavailable')
          assert.equal(body.access_token, undefined, 'no token without its record')
        }
        return outcome
      },
      write: async () => {
        const title = `pg ${randomUUID()}`
        const answer = await timed(`${appBUrl}/api/todos`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${writeToken}`,
            'content-type': 'application/json',
            'idempotency-key': randomUUID(),
          },
          body: JSON.stringify({ title }),
        })
        const outcome = classify(answer, [200, 201])
        if (outcome === 'ok') acknowledged.add(title)
        return outcome
      },
    }
    let running = true
    const workers = (['exchange', 'exchange', 'write', 'write'] as const).map(async (name) => {
      while (running) {
        const outcome = await loops[name]()
        counts[name][outcome]++
        if (phase === 'after' && outcome === 'ok') okAfter[name]++
        // A refused request is answered at once: pace the loop instead of spinning on it.
        if (outcome !== 'ok') await new Promise((resolve) => setTimeout(resolve, 50))
      }
    })
    const poller = (async () => {
      while (running) {
        for (const [name, url] of [
          ['idp', idpUrl],
          ['appB', appBUrl],
        ] as const) {
          const answer = await timed(`${url}/readyz`, {})
          ready[name].push(typeof answer === 'string' ? 0 : answer.status)
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    })()
    async function until(what: string, condition: () => boolean) {
      const deadline = Date.now() + 120_000
      while (!condition()) {
        if (Date.now() > deadline) {
          throw new Error(`${what} not within 120 s: ${JSON.stringify({ counts, phase })}`)
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }

    let outageMs: number
    let recoveredMs: number
    try {
      await until('load running', () => counts.exchange.ok >= 5 && counts.write.ok >= 5)
      const stoppedAt = performance.now()
      await server.stop()
      phase = 'outage'
      const refused = { exchange: counts.exchange['503'], write: counts.write['503'] }
      const notReady = { idp: ready.idp.length, appB: ready.appB.length }
      // Counted: the outage lasts until each service refused a few requests and said not ready.
      await until(
        'requests refused and /readyz 503 during the outage',
        () =>
          counts.exchange['503'] - refused.exchange >= 3 &&
          counts.write['503'] - refused.write >= 3 &&
          ready.idp.slice(notReady.idp).includes(503) &&
          ready.appB.slice(notReady.appB).includes(503),
      )
      await server.start()
      const startedAt = performance.now()
      outageMs = startedAt - stoppedAt
      phase = 'after'
      const readyFrom = { idp: ready.idp.length, appB: ready.appB.length }
      await until(
        'recovery without a restart of the services',
        () =>
          okAfter.exchange >= 3 &&
          okAfter.write >= 3 &&
          ready.idp.slice(readyFrom.idp).includes(200) &&
          ready.appB.slice(readyFrom.appB).includes(200),
      )
      recoveredMs = performance.now() - startedAt
    } finally {
      running = false
      await Promise.all([...workers, poller])
    }

    const client = new pg.Client({ connectionString: server.url })
    await client.connect()
    const { rows } = await client
      .query<{ title: string; n: number }>(
        'SELECT title, count(*)::int AS n FROM todos WHERE owner_sub = $1 GROUP BY title',
        [claims?.sub],
      )
      .finally(() => client.end())
    const stored = new Map(rows.map((row) => [row.title, row.n]))
    const lost = [...acknowledged].filter((title) => !stored.has(title))
    console.log(
      `PostgreSQL restarted under load: exchanges ${JSON.stringify(counts.exchange)}, ` +
        `writes ${JSON.stringify(counts.write)}; server down ${Math.round(outageMs)} ms, ` +
        `services serving and ready ${Math.round(recoveredMs)} ms after it was back; ` +
        `acknowledged ${acknowledged.size}, lost ${lost.length}`,
    )
    for (const name of ['exchange', 'write'] as const) {
      assert.equal(counts[name]['500'], 0, `${name}: no 500 during the outage`)
      assert.equal(counts[name].hung, 0, `${name}: every request answered within the deadline`)
      assert.equal(counts[name].connection, 0, `${name}: the service never dropped a connection`)
      assert.equal(counts[name].other, 0, `${name}: nothing refused for another reason`)
    }
    assert.deepEqual(lost, [], 'every acknowledged write is in the database')
    assert.deepEqual(
      rows.filter((row) => row.n > 1),
      [],
      'no todo stored twice',
    )
  })
})
