import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { importJWK, jwtVerify } from 'jose'
import { buildAppA } from '../../../src/apps/app-a/app.js'
import { loadEnv } from '../../../src/config/env.js'
import { createLogger } from '../../../src/log/logger.js'
import {
  CookieJar,
  loginThroughCallback,
  startFakeOp,
  type FakeOp,
} from '../../web/helpers/fake_op.js'

const SECRET = 'app-a test secret: with spaces/and+symbols&=!'
const ALICE = {
  sub: 'user-alice',
  name: 'Alice Example',
  preferred_username: 'alice',
  email: 'alice@example.test',
}

type AppBMode =
  { kind: 'ok' } | { kind: 'error'; status: number; error: string; description: string }

/** A stand-in for App B's service API: verifies the bearer token against the fake IdP's key. */
async function startFakeAppB(op: FakeOp) {
  const key = await importJWK(op.publicJwk, 'ES256')
  const app: FastifyInstance = Fastify()
  const state = { mode: { kind: 'ok' } as AppBMode, seen: [] as Record<string, unknown>[], url: '' }
  app.addHook('onRequest', async (request, reply) => {
    if (state.mode.kind === 'error') {
      return reply
        .code(state.mode.status)
        .header('www-authenticate', `Bearer error="${state.mode.error}"`)
        .send({ error: state.mode.error, error_description: state.mode.description })
    }
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1]
    try {
      const { payload } = await jwtVerify(token ?? '', key, {
        audience: 'app-b',
        typ: 'at+jwt',
        algorithms: ['ES256'],
      })
      state.seen.push(payload)
      ;(request as unknown as { claims: Record<string, unknown> }).claims = payload
    } catch {
      return reply.code(401).send({ error: 'invalid_token', error_description: 'token rejected' })
    }
  })
  app.get('/api/todos/count', async (request) => {
    const claims = (request as unknown as { claims: Record<string, unknown> }).claims
    return { count: 3, user: claims.sub, decidedBy: 'rfc8693' }
  })
  app.get('/api/todos', async () => ({
    todos: [
      { id: 1, title: 'Water <the> plants', done: false },
      { id: 2, title: 'Read RFC 8693', done: true },
    ],
  }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('no address')
  state.url = `http://127.0.0.1:${address.port}`
  return {
    ...state,
    get mode() {
      return state.mode
    },
    set mode(m: AppBMode) {
      state.mode = m
    },
    close: () => app.close(),
  }
}

async function setup(t: TestContext) {
  const op = await startFakeOp({ clientSecret: SECRET })
  t.after(() => op.close())
  const appB = await startFakeAppB(op)
  t.after(() => appB.close())
  const env = loadEnv({
    NODE_ENV: 'test',
    IDP_ISSUER: op.url,
    APP_A_CLIENT_SECRET: SECRET,
    APP_B_URL: appB.url,
    // The fake OP issues bearer tokens only: App A asks for no binding.
    APP_A_DPOP: 'off',
  })
  const app = await buildAppA({ env, logger: createLogger({ level: 'silent' }) })
  t.after(() => app.close())
  const jar = new CookieJar()
  return { op, appB, app, jar, env }
}

async function signedIn(t: TestContext) {
  const ctx = await setup(t)
  await loginThroughCallback(ctx.app, ctx.op, ctx.jar, ALICE)
  const page = () => ctx.app.inject({ url: '/', headers: { cookie: ctx.jar.header() } })
  return { ...ctx, page }
}

function testId(body: string, id: string): string | undefined {
  const match = new RegExp(`data-testid="${id}"[^>]*>([\\s\\S]*?)</`).exec(body)
  return match?.[1]
}

/** Exchanges for App B's todos (`todos:read`); the chain card's own exchange asks for more. */
function todoExchanges(op: {
  requests: Array<{ grantType: string; body: Record<string, string> }>
}) {
  return op.requests.filter(
    (r) => r.grantType.endsWith('token-exchange') && r.body.scope === 'todos:read',
  ).length
}

test('healthz answers ok', async (t) => {
  const { app } = await setup(t)
  const response = await app.inject('/healthz')
  assert.deepEqual(response.json(), { ok: true })
})

test('landing when not signed in then it explains and offers sign in', async (t) => {
  const { app, env } = await setup(t)
  const response = await app.inject('/')
  assert.equal(response.statusCode, 200)
  assert.equal(response.headers['cache-control'], 'no-store')
  assert.match(response.body, /data-testid="sign-in"/)
  assert.match(response.body, /href="\/auth\/login"/)
  assert.ok(response.body.includes(`href="${env.APP_B_URL}"`))
  assert.match(
    String(response.headers['content-security-policy']),
    /form-action 'self' http:\/\/127\.0\.0\.1:\d+/,
  )
})

test('dashboard when signed in then App B todo count and the exchange info with a claims diff, no tokens', async (t) => {
  const { page, appB, op } = await signedIn(t)
  const response = await page()
  assert.equal(response.statusCode, 200)
  const body = response.body
  assert.equal(testId(body, 'todo-count'), '3')
  assert.match(body, /You have 3 todos in App B/)
  assert.equal(testId(body, 'app-b-user'), 'user-alice')
  assert.equal(testId(body, 'method-badge'), 'RFC 8693')
  assert.match(body, /class="badge badge-green" data-testid="method-badge"/)
  assert.match(body, /RFC 8693 token exchange/)
  assert.match(testId(body, 'cache-status') ?? '', /fresh/)
  assert.match(testId(body, 'exchange-duration') ?? '', /^\d+\.\d ms$/)

  for (const claim of ['aud', 'azp', 'act', 'exp', 'client_id', 'scope']) {
    assert.match(body, new RegExp(`data-testid="claim-row-${claim}"`), claim)
  }
  for (const claim of ['aud', 'azp', 'act', 'scope', 'jti']) {
    assert.match(
      body,
      new RegExp(`class="diff"\\s+data-testid="claim-row-${claim}"\\s+data-differs="true"`),
      claim,
    )
  }
  assert.match(body, /class="same"\s+data-testid="claim-row-sub"\s+data-differs="false"/)
  assert.match(body, /class="same"\s+data-testid="claim-row-client_id"/)
  assert.match(body, /UTC \(in \d+ min\)/, 'timestamps also human-readable')

  // App B really received a delegated token: user as subject, App A as actor.
  const seen = appB.seen[0]!
  assert.equal(seen.sub, 'user-alice')
  assert.equal(seen.aud, 'app-b')
  assert.deepEqual(seen.act, { sub: 'app-a', iss: op.url })

  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(body), 'no JWT in the HTML')
  assert.match(body, /data-testid="logout-button"/)

  const again = await page()
  assert.match(testId(again.body, 'cache-status') ?? '', /cached/)
  assert.equal(todoExchanges(op), 1)
})

test('dashboard when the exchange is refused then the OAuth error is shown and the page still renders', async (t) => {
  const { page, op, appB } = await signedIn(t)
  op.exchangeBehaviour = {
    kind: 'error',
    status: 400,
    error: 'invalid_target',
    description: 'app-a may not <act> for app-b',
  }
  const response = await page()
  assert.equal(response.statusCode, 200)
  assert.match(response.body, /data-testid="exchange-error"/)
  assert.equal(testId(response.body, 'exchange-error-code'), 'invalid_target')
  assert.equal(
    testId(response.body, 'exchange-error-description'),
    'app-a may not &lt;act&gt; for app-b',
  )
  assert.doesNotMatch(response.body, /data-testid="todo-count"/)
  assert.equal(appB.seen.length, 0, 'App B was not called')
  assert.match(
    response.body,
    /data-testid="claim-row-aud"/,
    'the original token claims are still shown',
  )
})

test('dashboard when App B rejects the token then its error is shown', async (t) => {
  const { page, appB } = await signedIn(t)
  appB.mode = {
    kind: 'error',
    status: 403,
    error: 'insufficient_scope',
    description: 'todos:read required',
  }
  const response = await page()
  assert.equal(response.statusCode, 200)
  assert.match(response.body, /data-testid="app-b-error"/)
  assert.match(response.body, /HTTP\s+403/)
  assert.equal(testId(response.body, 'app-b-error-code'), 'insufficient_scope')
  assert.match(response.body, /todos:read required/)
  assert.match(testId(response.body, 'method-badge') ?? '', /RFC 8693/)
})

test('dashboard when App B answers 401 then the cached exchanged token is dropped', async (t) => {
  const { page, appB, op } = await signedIn(t)
  appB.mode = { kind: 'error', status: 401, error: 'invalid_token', description: 'expired' }
  await page()
  appB.mode = { kind: 'ok' }
  const response = await page()
  assert.match(testId(response.body, 'cache-status') ?? '', /fresh/)
  assert.equal(todoExchanges(op), 2)
})

test('dashboard when App B is down then a readable error and the rest works', async (t) => {
  const { page, appB } = await signedIn(t)
  await appB.close()
  const response = await page()
  assert.equal(response.statusCode, 200)
  assert.match(testId(response.body, 'app-b-error') ?? '', /cannot be reached/)
  assert.match(response.body, /data-testid="exchange-info"/)
})

test('dashboard when the IdP goes down then the exchange shows network_error', async (t) => {
  const { page, op } = await signedIn(t)
  await op.close()
  const response = await page()
  assert.equal(response.statusCode, 200)
  assert.equal(testId(response.body, 'exchange-error-code'), 'network_error')
  assert.match(response.body, /data-testid="user-name"/)
})

test('login when the IdP is down then 503 page', async (t) => {
  const { app, op } = await setup(t)
  await op.close()
  const response = await app.inject('/auth/login')
  assert.equal(response.statusCode, 503)
  assert.match(response.body, /Sign-in service unavailable/)
})

test('todos page lists App B todos, escaped, and requires login', async (t) => {
  const { app, jar } = await signedIn(t)
  const anonymous = await app.inject('/todos')
  assert.equal(anonymous.statusCode, 303)
  assert.equal(anonymous.headers.location, '/auth/login?returnTo=%2Ftodos')
  const response = await app.inject({ url: '/todos', headers: { cookie: jar.header() } })
  assert.equal(response.statusCode, 200)
  assert.match(response.body, /Water &lt;the&gt; plants/)
  assert.match(response.body, /Read RFC 8693/)
})

test('session cookie is onbehalf_app_a_sid', async (t) => {
  const { jar } = await signedIn(t)
  assert.ok(jar.cookies.has('onbehalf_app_a_sid'))
})
