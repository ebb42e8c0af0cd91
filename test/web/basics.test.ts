import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import Fastify from 'fastify'
import { registerWebBasics, sendHtml } from '../../src/web/basics.js'
import { html } from '../../src/web/html.js'
import { renderPage } from '../../src/web/layout.js'
import { CookieJar } from './helpers/fake_op.js'

const COOKIE = 'test_app_sid'

async function buildApp(
  t: TestContext,
  extra: { now?: () => number; ttl?: number; maxSessions?: number } = {},
) {
  const app = Fastify({ logger: false })
  await registerWebBasics(app, {
    appName: 'Test App',
    cookieName: COOKIE,
    sessionSecret: 'a-test-session-secret-that-is-long-enough',
    secureCookies: false,
    formActionOrigins: ['http://localhost:9000/some/path'],
    ...(extra.ttl ? { sessionTtlSeconds: extra.ttl } : {}),
    ...(extra.now ? { now: extra.now } : {}),
    ...(extra.maxSessions ? { maxSessions: extra.maxSessions } : {}),
  })
  app.get('/', async (request, reply) =>
    sendHtml(
      reply,
      renderPage({
        appName: 'Test App',
        title: 'Home',
        csrfToken: request.session.csrfToken,
        body: html`<p>home</p>`,
      }),
    ),
  )
  app.get('/count', async (request) => {
    const count = (request.session.get<number>('count') ?? 0) + 1
    request.session.set('count', count)
    return { count, id: request.session.id }
  })
  app.get('/csrf', async (request) => ({ csrf: request.session.csrfToken }))
  app.post('/form', async (request) => ({ ok: true, body: request.body }))
  app.post('/regenerate', async (request) => {
    request.session.regenerate()
    return { id: request.session.id, count: request.session.get('count') ?? null }
  })
  app.post('/destroy', async (request) => {
    request.session.destroy()
    return { ok: true }
  })
  app.post('/api/things', async (request) => ({
    ok: true,
    hasCookie: Boolean(request.headers.cookie),
  }))
  app.get('/api/things', async () => ({ ok: true }))
  app.get('/boom', async () => {
    throw new Error('secret internal detail at /srv/app.ts:42')
  })
  app.get('/api/boom', async () => {
    throw new Error('secret internal detail')
  })
  await app.ready()
  t.after(() => app.close())
  return app
}

function setCookieOf(response: { headers: Record<string, unknown> }): string {
  const header = response.headers['set-cookie']
  return [header ?? []].flat().join('\n')
}

test('session when a value is set then the cookie is HttpOnly, SameSite=Lax, Path=/, signed, and the value persists', async (t) => {
  const app = await buildApp(t)
  const jar = new CookieJar()
  const first = await app.inject('/count')
  const cookie = setCookieOf(first)
  assert.match(cookie, new RegExp(`^${COOKIE}=`))
  assert.match(cookie, /HttpOnly/)
  assert.match(cookie, /SameSite=Lax/)
  assert.match(cookie, /Path=\//)
  assert.doesNotMatch(cookie, /Secure/)
  const id = first.json().id as string
  assert.equal(Buffer.from(id, 'base64url').length, 32, '256-bit id')
  jar.store(first.headers['set-cookie'])
  assert.ok(jar.cookies.get(COOKIE)!.startsWith(`${id}.`), 'cookie carries id + HMAC signature')
  const second = await app.inject({ url: '/count', headers: { cookie: jar.header() } })
  assert.deepEqual(second.json(), { count: 2, id })
  assert.equal(second.headers['set-cookie'], undefined, 'no new cookie for an existing session')
})

test('session when the cookie signature is tampered with then a fresh session is used', async (t) => {
  const app = await buildApp(t)
  const first = await app.inject('/count')
  const jar = new CookieJar()
  jar.store(first.headers['set-cookie'])
  const [id] = jar.cookies.get(COOKIE)!.split('.')
  const forged = await app.inject({ url: '/count', headers: { cookie: `${COOKIE}=${id}.AAAA` } })
  assert.equal(forged.json().count, 1)
  assert.notEqual(forged.json().id, id)
  const unsigned = await app.inject({ url: '/count', headers: { cookie: `${COOKIE}=${id}` } })
  assert.equal(unsigned.json().count, 1)
})

test('session when idle longer than the TTL then it expires', async (t) => {
  let now = 1_000
  const app = await buildApp(t, { now: () => now, ttl: 60 })
  const jar = new CookieJar()
  const first = await app.inject('/count')
  jar.store(first.headers['set-cookie'])
  now += 59
  assert.equal(
    (await app.inject({ url: '/count', headers: { cookie: jar.header() } })).json().count,
    2,
  )
  now += 59 // sliding: still alive
  assert.equal(
    (await app.inject({ url: '/count', headers: { cookie: jar.header() } })).json().count,
    3,
  )
  now += 61
  assert.equal(
    (await app.inject({ url: '/count', headers: { cookie: jar.header() } })).json().count,
    1,
  )
})

test('session when more sessions than maxSessions then the least recently used is evicted', async (t) => {
  const app = await buildApp(t, { maxSessions: 2 })
  const jars = [new CookieJar(), new CookieJar(), new CookieJar()]
  for (const jar of jars) jar.store((await app.inject('/count')).headers['set-cookie'])
  assert.equal(
    (await app.inject({ url: '/count', headers: { cookie: jars[0]!.header() } })).json().count,
    1,
  )
  assert.equal(
    (await app.inject({ url: '/count', headers: { cookie: jars[2]!.header() } })).json().count,
    2,
  )
})

test('session when regenerated then id and CSRF token change and the old id is dead', async (t) => {
  const app = await buildApp(t)
  const jar = new CookieJar()
  const first = await app.inject('/count')
  jar.store(first.headers['set-cookie'])
  const oldId = first.json().id
  const oldCookie = jar.header()
  const csrf = (await app.inject({ url: '/csrf', headers: { cookie: jar.header() } })).json().csrf
  const regenerated = await app.inject({
    method: 'POST',
    url: '/regenerate',
    headers: { cookie: jar.header() },
    payload: { _csrf: csrf },
  })
  assert.equal(regenerated.statusCode, 200)
  assert.notEqual(regenerated.json().id, oldId)
  assert.equal(regenerated.json().count, null)
  jar.store(regenerated.headers['set-cookie'])
  const newCsrf = (await app.inject({ url: '/csrf', headers: { cookie: jar.header() } })).json()
    .csrf
  assert.notEqual(newCsrf, csrf)
  assert.equal(
    (await app.inject({ url: '/count', headers: { cookie: oldCookie } })).json().count,
    1,
  )
})

test('session when destroyed then the cookie is cleared and the data is gone', async (t) => {
  const app = await buildApp(t)
  const jar = new CookieJar()
  jar.store((await app.inject('/count')).headers['set-cookie'])
  const csrf = (await app.inject({ url: '/csrf', headers: { cookie: jar.header() } })).json().csrf
  const destroyed = await app.inject({
    method: 'POST',
    url: '/destroy',
    headers: { cookie: jar.header() },
    payload: { _csrf: csrf },
  })
  assert.equal(destroyed.statusCode, 200)
  assert.match(setCookieOf(destroyed), new RegExp(`${COOKIE}=;`))
  assert.equal(
    (await app.inject({ url: '/count', headers: { cookie: jar.header() } })).json().count,
    1,
  )
})

test('csrf when a form POST has no token, a wrong token or no session then 403 page', async (t) => {
  const app = await buildApp(t)
  const jar = new CookieJar()
  const page = await app.inject('/csrf')
  jar.store(page.headers['set-cookie'])
  const csrf = page.json().csrf as string

  const missing = await app.inject({
    method: 'POST',
    url: '/form',
    headers: { cookie: jar.header() },
    payload: { a: '1' },
  })
  assert.equal(missing.statusCode, 403)
  assert.match(String(missing.headers['content-type']), /text\/html/)
  assert.match(missing.body, /Request refused/)

  const wrong = await app.inject({
    method: 'POST',
    url: '/form',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
    payload: `a=1&_csrf=${'x'.repeat(csrf.length)}`,
  })
  assert.equal(wrong.statusCode, 403)

  const noSession = await app.inject({
    method: 'POST',
    url: '/form',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `_csrf=${csrf}`,
  })
  assert.equal(noSession.statusCode, 403)

  const ok = await app.inject({
    method: 'POST',
    url: '/form',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
    payload: `a=1&_csrf=${encodeURIComponent(csrf)}`,
  })
  assert.equal(ok.statusCode, 200)
  assert.equal(ok.json().body.a, '1')
})

test('csrf when a JSON request under /api/ then no check and no session cookie', async (t) => {
  const app = await buildApp(t)
  const response = await app.inject({ method: 'POST', url: '/api/things', payload: { x: 1 } })
  assert.equal(response.statusCode, 200)
  assert.equal(response.headers['set-cookie'], undefined)
  assert.equal((await app.inject('/api/things')).headers['set-cookie'], undefined)
})

test('headers when an HTML page is served then strict CSP, no-store and friends are set', async (t) => {
  const app = await buildApp(t)
  const response = await app.inject('/')
  assert.equal(response.statusCode, 200)
  assert.equal(response.headers['cache-control'], 'no-store')
  const csp = String(response.headers['content-security-policy'])
  assert.match(csp, /default-src 'self'/)
  assert.match(csp, /script-src 'self'(;|$)/)
  assert.match(csp, /form-action 'self' http:\/\/localhost:9000(;|$)/)
  assert.match(csp, /frame-ancestors 'none'/)
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
  assert.doesNotMatch(csp, /upgrade-insecure-requests/)
  assert.equal(response.headers['x-content-type-options'], 'nosniff')
  assert.equal(response.headers['referrer-policy'], 'no-referrer')
  assert.equal(response.headers['strict-transport-security'], undefined)
  assert.notEqual((await app.inject('/api/things')).headers['cache-control'], 'no-store')
})

test('stylesheet is served from /assets/style.css', async (t) => {
  const app = await buildApp(t)
  const response = await app.inject('/assets/style.css')
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /text\/css/)
  assert.match(response.body, /\.badge-green/)
  assert.match(response.body, /\.badge-red/)
})

test('error handler when a route throws then no stack trace or message reaches the client', async (t) => {
  const app = await buildApp(t)
  const page = await app.inject('/boom')
  assert.equal(page.statusCode, 500)
  assert.match(String(page.headers['content-type']), /text\/html/)
  assert.doesNotMatch(page.body, /secret internal detail|app\.ts|at .*:\d+/)
  const api = await app.inject('/api/boom')
  assert.equal(api.statusCode, 500)
  assert.deepEqual(Object.keys(api.json()).sort(), ['error', 'error_description'])
  assert.equal(api.json().error, 'server_error')
  assert.doesNotMatch(api.body, /secret internal detail/)
})

test('registerWebBasics when the session secret is short then it refuses to start', async () => {
  const app = Fastify()
  await assert.rejects(
    registerWebBasics(app, {
      appName: 'x',
      cookieName: 'x',
      sessionSecret: 'short',
      secureCookies: false,
    }),
    TypeError,
  )
  await app.close().catch(() => {})
})
