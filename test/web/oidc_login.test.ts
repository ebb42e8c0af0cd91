import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import Fastify from 'fastify'
import { registerWebBasics } from '../../src/web/basics.js'
import {
  registerOidcLogin,
  safeReturnTo,
  UserTokenError,
  type OidcLogin,
} from '../../src/web/oidc_login.js'
import { CookieJar, loginThroughCallback, startFakeOp } from './helpers/fake_op.js'

const BASE_URL = 'http://localhost:3993'
const ALICE = {
  sub: 'user-alice',
  name: 'Alice Example',
  preferred_username: 'alice',
  email: 'alice@example.test',
}

async function setup(t: TestContext, options: { issuer?: string; now?: () => number } = {}) {
  const op = await startFakeOp(options.now ? { now: options.now } : {})
  t.after(() => op.close())
  const app = Fastify({ logger: false })
  await registerWebBasics(app, {
    appName: 'Test App',
    cookieName: 'test_sid',
    sessionSecret: 'a-test-session-secret-that-is-long-enough',
    secureCookies: false,
    formActionOrigins: [op.url],
  })
  const oidc = await registerOidcLogin(app, {
    issuer: options.issuer ?? op.url,
    clientId: op.clientId,
    clientSecret: op.clientSecret,
    baseUrl: BASE_URL,
    scope: 'openid profile email offline_access',
    ...(options.now ? { now: options.now } : {}),
  })
  app.get('/private', { preHandler: app.requireLogin }, async (request) => ({ user: request.user }))
  app.get('/token', async (request) => {
    try {
      return { token: await app.getUserAccessToken(request) }
    } catch (error) {
      if (error instanceof UserTokenError) return { reason: error.reason }
      throw error
    }
  })
  app.get('/whoami', async (request) => ({ user: request.user }))
  await app.ready()
  t.after(() => app.close())
  return { app, op, oidc: oidc as OidcLogin }
}

test('login redirects to the IdP with code flow, PKCE S256, state and nonce', async (t) => {
  const { app, op } = await setup(t)
  const response = await app.inject('/auth/login?returnTo=%2Fprivate')
  assert.equal(response.statusCode, 303)
  const location = new URL(String(response.headers.location))
  assert.equal(location.origin + location.pathname, `${op.url}/auth`)
  const params = location.searchParams
  assert.equal(params.get('response_type'), 'code')
  assert.equal(params.get('client_id'), 'app-a')
  assert.equal(params.get('redirect_uri'), `${BASE_URL}/auth/callback`)
  assert.equal(params.get('code_challenge_method'), 'S256')
  assert.match(params.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/)
  assert.ok((params.get('state') ?? '').length >= 32)
  assert.ok((params.get('nonce') ?? '').length >= 32)
  assert.equal(params.get('scope'), 'openid profile email offline_access')
  assert.match(String(response.headers['set-cookie']), /test_sid=/)
})

test('callback when the code is good then the user is signed in, the session regenerated and returnTo honoured', async (t) => {
  const { app, op } = await setup(t)
  const jar = new CookieJar()
  const before = (await app.inject('/private')).headers.location
  assert.equal(before, '/auth/login?returnTo=%2Fprivate')
  const target = await loginThroughCallback(app, op, jar, ALICE, '/auth/login?returnTo=%2Fprivate')
  assert.equal(target, '/private')
  const whoami = await app.inject({ url: '/private', headers: { cookie: jar.header() } })
  assert.deepEqual(whoami.json().user, {
    sub: 'user-alice',
    name: 'Alice Example',
    username: 'alice',
    email: 'alice@example.test',
  })
  const codeRequest = op.requests.find((r) => r.grantType === 'authorization_code')!
  assert.ok(codeRequest.body.code_verifier, 'PKCE verifier sent')
  assert.match(codeRequest.authorization ?? '', /^Basic /)
})

test('callback when the session cookie differs from the one that started login then it is refused', async (t) => {
  const { app, op } = await setup(t)
  const login = await app.inject('/auth/login')
  const authorize = new URL(String(login.headers.location))
  const code = op.issueCode({
    nonce: authorize.searchParams.get('nonce')!,
    codeChallenge: authorize.searchParams.get('code_challenge')!,
    user: ALICE,
  })
  const callback = await app.inject(
    `/auth/callback?code=${code}&state=${authorize.searchParams.get('state')}`,
  )
  assert.equal(callback.statusCode, 400)
  assert.match(callback.body, /Sign-in expired/)
})

test('callback when state does not match then the sign-in fails without a stack trace', async (t) => {
  const { app, op } = await setup(t)
  const jar = new CookieJar()
  const login = await app.inject('/auth/login')
  jar.store(login.headers['set-cookie'])
  const authorize = new URL(String(login.headers.location))
  const code = op.issueCode({
    nonce: authorize.searchParams.get('nonce')!,
    codeChallenge: authorize.searchParams.get('code_challenge')!,
    user: ALICE,
  })
  const callback = await app.inject({
    url: `/auth/callback?code=${code}&state=forged`,
    headers: { cookie: jar.header() },
  })
  assert.ok(callback.statusCode >= 400)
  assert.doesNotMatch(callback.body, /at .*\.(js|ts):\d+/)
  assert.equal(
    (await app.inject({ url: '/whoami', headers: { cookie: jar.header() } })).json().user,
    null,
  )
})

test('callback when the IdP reports access_denied then a readable page', async (t) => {
  const { app } = await setup(t)
  const jar = new CookieJar()
  const login = await app.inject('/auth/login')
  jar.store(login.headers['set-cookie'])
  const state = new URL(String(login.headers.location)).searchParams.get('state')
  const callback = await app.inject({
    url: `/auth/callback?error=access_denied&error_description=nope&state=${state}`,
    headers: { cookie: jar.header() },
  })
  assert.equal(callback.statusCode, 403)
  assert.match(callback.body, /access_denied/)
})

test('login when the IdP is down then 503 page, and discovery is retried once it is up', async (t) => {
  const dead = await startFakeOp()
  await dead.close()
  const port = Number(new URL(dead.url).port)
  const { app } = await setup(t, { issuer: dead.url })
  const response = await app.inject('/auth/login')
  assert.equal(response.statusCode, 503)
  assert.match(response.body, /identity provider cannot be reached/)
  assert.doesNotMatch(response.body, /ECONNREFUSED|fetch failed|at .*:\d+/)
  const revived = await startFakeOp({ port })
  t.after(() => revived.close())
  const again = await app.inject('/auth/login')
  assert.equal(again.statusCode, 303, 'the failed discovery was not cached')
  assert.ok(String(again.headers.location).startsWith(`${dead.url}/auth?`))
})

test('returnTo accepts only relative paths', () => {
  assert.equal(safeReturnTo('/todos?x=1'), '/todos?x=1')
  for (const bad of [
    'https://evil.test/',
    '//evil.test',
    '/\\evil.test',
    'javascript:alert(1)',
    '',
    undefined,
    ['/a'],
  ]) {
    assert.equal(safeReturnTo(bad), '/')
  }
})

test('logout when the CSRF token is missing then 403 and the user stays signed in', async (t) => {
  const { app, op } = await setup(t)
  const jar = new CookieJar()
  await loginThroughCallback(app, op, jar, ALICE)
  const refused = await app.inject({
    method: 'POST',
    url: '/auth/logout',
    headers: { cookie: jar.header() },
  })
  assert.equal(refused.statusCode, 403)
  assert.equal(
    (await app.inject({ url: '/whoami', headers: { cookie: jar.header() } })).json().user.sub,
    'user-alice',
  )
})

test('logout with a valid CSRF token ends the local and the IdP session', async (t) => {
  const { app, op } = await setupWithProbe(t)
  const jar = new CookieJar()
  await loginThroughCallback(app, op, jar, ALICE)
  const csrf = (await app.inject({ url: '/csrf-probe', headers: { cookie: jar.header() } })).json()
    .csrf
  const signedInCookie = jar.header()
  const logout = await app.inject({
    method: 'POST',
    url: '/auth/logout',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
    payload: `_csrf=${encodeURIComponent(csrf)}`,
  })
  assert.equal(logout.statusCode, 303)
  const location = new URL(String(logout.headers.location))
  assert.equal(location.origin + location.pathname, `${op.url}/session/end`)
  assert.equal(location.searchParams.get('id_token_hint'), null, 'no token in a URL')
  assert.equal(location.searchParams.get('client_id'), op.clientId)
  assert.equal(location.searchParams.get('post_logout_redirect_uri'), `${BASE_URL}/`)
  // A fresh, anonymous session replaces the old one (it remembers the sign-out, so the next
  // sign-in asks for the password again: prompt=login).
  const replaced = /test_sid=([^;]+);/.exec(String(logout.headers['set-cookie']))?.[1]
  assert.ok(replaced, 'a new session cookie')
  assert.ok(!signedInCookie.includes(replaced), 'not the signed-in session')
  const oldSession = await app.inject({ url: '/whoami', headers: { cookie: signedInCookie } })
  assert.equal(oldSession.json().user, null, 'the signed-in session is gone')
  jar.store(logout.headers['set-cookie'])
  const again = await app.inject({ url: '/auth/login', headers: { cookie: jar.header() } })
  assert.equal(new URL(String(again.headers.location)).searchParams.get('prompt'), 'login')
  const oldCookieStillWorks = await app.inject({
    url: '/whoami',
    headers: { cookie: jar.header() },
  })
  assert.equal(oldCookieStillWorks.json().user, null)
})

async function setupWithProbe(t: TestContext, now?: () => number) {
  const op = await startFakeOp(now ? { now } : {})
  t.after(() => op.close())
  const app = Fastify({ logger: false })
  await registerWebBasics(app, {
    appName: 'Test App',
    cookieName: 'test_sid',
    sessionSecret: 'a-test-session-secret-that-is-long-enough',
    secureCookies: false,
  })
  await registerOidcLogin(app, {
    issuer: op.url,
    clientId: op.clientId,
    clientSecret: op.clientSecret,
    baseUrl: BASE_URL,
    scope: 'openid offline_access',
    ...(now ? { now } : {}),
  })
  app.get('/csrf-probe', async (request) => ({ csrf: request.session.csrfToken }))
  app.get('/whoami', async (request) => ({ user: request.user }))
  app.get('/token', async (request) => {
    try {
      return { token: await app.getUserAccessToken(request) }
    } catch (error) {
      if (error instanceof UserTokenError) return { reason: error.reason }
      throw error
    }
  })
  await app.ready()
  t.after(() => app.close())
  return { app, op }
}

test('getUserAccessToken when the token is within 30 s of expiry then it refreshes (rotation kept)', async (t) => {
  let now = Date.now() / 1000
  const { app, op } = await setupWithProbe(t, () => now)
  op.accessTokenLifetime = 120
  const jar = new CookieJar()
  await loginThroughCallback(app, op, jar, ALICE)
  const first = (await app.inject({ url: '/token', headers: { cookie: jar.header() } })).json()
    .token
  assert.ok(first)
  now += 60
  assert.equal(
    (await app.inject({ url: '/token', headers: { cookie: jar.header() } })).json().token,
    first,
  )
  now += 35 // 25 s left
  const refreshed = (await app.inject({ url: '/token', headers: { cookie: jar.header() } })).json()
    .token
  assert.ok(refreshed && refreshed !== first)
  assert.equal(op.requests.filter((r) => r.grantType === 'refresh_token').length, 1)
  now += 100
  const again = (await app.inject({ url: '/token', headers: { cookie: jar.header() } })).json()
    .token
  assert.ok(again && again !== refreshed, 'the rotated refresh token was stored and used')
})

test('getUserAccessToken when the refresh is refused or nobody is signed in then a typed error', async (t) => {
  let now = Date.now() / 1000
  const { app, op } = await setupWithProbe(t, () => now)
  assert.equal((await app.inject('/token')).json().reason, 'not_logged_in')
  op.accessTokenLifetime = 60
  const jar = new CookieJar()
  await loginThroughCallback(app, op, jar, ALICE)
  op.refreshBehaviour = 'invalid_grant'
  now += 45
  assert.equal(
    (await app.inject({ url: '/token', headers: { cookie: jar.header() } })).json().reason,
    'refresh_rejected',
  )
  assert.equal(
    (await app.inject({ url: '/token', headers: { cookie: jar.header() } })).json().reason,
    'refresh_unavailable',
    'the dead refresh token is not presented again',
  )
})
