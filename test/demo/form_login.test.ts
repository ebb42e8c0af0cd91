/**
 * The headless sign-in (src/client/form_login.ts) against a scripted IdP (no server): PKCE and
 * state on the way out, cookies kept per host and path, the login form found by its password
 * field, the code redeemed with client_secret_basic; faults are typed and carry no secret.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { FormLoginError, signInWithLoginForm } from '../../src/demo/form_login.js'

const IDP = 'http://idp.test'
const CALLBACK = 'http://app.test/auth/callback'

interface Seen {
  method: string
  url: URL
  headers: Headers
  body: string
}

/** An IdP that shows a form at /login (session cookie from /auth) and redirects back with a code. */
function scriptedIdp(options: { password: string; state?: (state: string) => string }) {
  const seen: Seen[] = []
  let authorize: URL | undefined
  const fake: typeof fetch = async (input, init) => {
    const url = new URL(String(input))
    const headers = new Headers(init?.headers)
    const body = init?.body ? String(init.body) : ''
    seen.push({ method: init?.method ?? 'GET', url, headers, body })
    if (url.pathname === '/auth') {
      authorize = url
      return new Response(null, {
        status: 302,
        headers: [
          ['location', '/login?session=s1'],
          ['set-cookie', 'sid=abc; Path=/; HttpOnly'],
          ['set-cookie', 'scoped=1; Path=/elsewhere'],
        ],
      })
    }
    if (url.pathname === '/login' && (init?.method ?? 'GET') === 'GET') {
      return new Response(
        `<form action="/login?session=s1&amp;step=2" method="post">
           <input type="hidden" name="csrf" value="t&amp;1">
           <input name="email" type="email"><input name="secret" type="password"></form>`,
        { status: 200, headers: { 'content-type': 'text/html' } },
      )
    }
    if (url.pathname === '/login') {
      const form = new URLSearchParams(body)
      if (form.get('secret') !== options.password) return new Response('wrong', { status: 200 })
      const state = authorize!.searchParams.get('state')!
      const back = new URL(CALLBACK)
      back.searchParams.set('code', 'the-code')
      back.searchParams.set('state', options.state ? options.state(state) : state)
      return new Response(null, { status: 303, headers: { location: back.href } })
    }
    if (url.pathname === '/token') {
      const form = new URLSearchParams(body)
      const challenge = createHash('sha256').update(form.get('code_verifier')!).digest('base64url')
      const good =
        form.get('code') === 'the-code' &&
        challenge === authorize!.searchParams.get('code_challenge') &&
        headers.get('authorization') === `Basic ${Buffer.from('app-a:s3cret').toString('base64')}`
      return Response.json(
        good ? { access_token: 'at', token_type: 'Bearer' } : { error: 'invalid_grant' },
        { status: good ? 200 : 400 },
      )
    }
    return new Response('not found', { status: 404 })
  }
  return { fake, seen }
}

const options = (fake: typeof fetch, password = 'pw') => ({
  authorizationEndpoint: `${IDP}/auth`,
  tokenEndpoint: `${IDP}/token`,
  clientId: 'app-a',
  clientSecret: 's3cret',
  redirectUri: CALLBACK,
  scope: 'openid todos:read',
  username: 'demo@example.test',
  password,
  prompt: 'login',
  fetch: fake,
})

test('signs in through the form and redeems the code (PKCE S256, state, cookies per path)', async () => {
  const { fake, seen } = scriptedIdp({ password: 'pw' })
  const tokens = await signInWithLoginForm(options(fake))
  assert.equal(tokens.access_token, 'at')
  const authorize = seen[0]!.url.searchParams
  assert.equal(authorize.get('code_challenge_method'), 'S256')
  assert.equal(authorize.get('prompt'), 'login')
  assert.ok(authorize.get('state') && authorize.get('nonce'))
  const post = seen.find((s) => s.method === 'POST' && s.url.pathname === '/login')!
  assert.equal(post.url.search, '?session=s1&step=2')
  assert.equal(post.headers.get('cookie'), 'sid=abc', 'the /elsewhere cookie stays home')
  assert.deepEqual(Object.fromEntries(new URLSearchParams(post.body)), {
    csrf: 't&1',
    email: 'demo@example.test',
    secret: 'pw',
  })
  assert.ok(!seen.some((s) => s.url.host === 'app.test'), 'nothing is sent to the redirect URI')
})

test('a wrong password is a typed error without the password', async () => {
  const { fake } = scriptedIdp({ password: 'pw' })
  await assert.rejects(signInWithLoginForm(options(fake, 'not-pw')), (error: unknown) => {
    assert.ok(error instanceof FormLoginError)
    assert.equal(error.reason, 'not_signed_in')
    assert.match(error.message, /sign-in as demo@example\.test did not complete/)
    assert.ok(!error.message.includes('not-pw'))
    return true
  })
})

test('a state that does not match is refused before the code is redeemed', async () => {
  const { fake, seen } = scriptedIdp({ password: 'pw', state: () => 'forged' })
  await assert.rejects(signInWithLoginForm(options(fake)), { reason: 'state_mismatch' })
  assert.ok(!seen.some((s) => s.url.pathname === '/token'))
})
