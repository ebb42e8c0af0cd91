/**
 * Issue 12 item 3, the receiving side: App B's back-channel logout URI (OpenID Connect Back-Channel
 * Logout 1.0 §2.5–2.8) over real HTTP against the real stack. A valid logout token ends the user's
 * App B sessions; every malformed, forged or replayed one is 400 and ends nothing. Tokens are signed
 * with the IdP's own key (as if the IdP sent them) or with a stranger's key (a forgery); the
 * browser test (test/e2e/backchannel_logout.test.ts) has the IdP send real ones.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/web/logout_token.js'
import { TestBrowser } from '../helpers/browser.js'
import { startStack, type Stack } from '../helpers/stack.js'
import { signJwt, USERS } from './helpers.js'

async function signInToAppB(stack: Stack, username = 'demo'): Promise<TestBrowser> {
  const browser = new TestBrowser()
  const form = await browser.navigate(`${stack.env.APP_B_URL}/auth/login`)
  const page = await browser.submitForm(form, { username, password: 'changeme' }, '/login')
  assert.equal(page.status, 200)
  assert.match(page.body, /data-testid="todo-list"/, 'signed in to App B')
  return browser
}

async function isSignedIn(stack: Stack, browser: TestBrowser): Promise<boolean> {
  const page = await browser.request(`${stack.env.APP_B_URL}/`)
  return /data-testid="todo-list"/.test(page.body)
}

function logoutClaims(stack: Stack, overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000)
  return {
    iss: stack.idp.issuer,
    aud: 'app-b',
    iat: now,
    exp: now + 120,
    jti: randomUUID(),
    sub: USERS.demo,
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    ...overrides,
  }
}

function logoutToken(
  stack: Stack,
  overrides: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): string {
  const claims = Object.fromEntries(
    Object.entries(logoutClaims(stack, overrides)).filter(([, value]) => value !== undefined),
  )
  return signJwt(stack, claims, { typ: 'logout+jwt', ...header })
}

async function postLogout(stack: Stack, body: string): Promise<Response> {
  return fetch(`${stack.env.APP_B_URL}/auth/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  })
}

describe('App B back-channel logout URI', () => {
  let stack: Stack
  before(async () => {
    stack = await startStack({ apps: true })
  })
  after(async () => {
    await stack?.close()
  })

  it('backchannelLogoutWhenTheTokenIsInvalidThen400AndTheSessionStays', async () => {
    const browser = await signInToAppB(stack)
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const now = Math.floor(Date.now() / 1000)
    const invalid: Record<string, string> = {
      'foreign key': signJwt(
        stack,
        logoutClaims(stack),
        { typ: 'logout+jwt' },
        { kid: stack.idp.keys.active.kid, privateKey: stranger.privateKey },
      ),
      'other audience': logoutToken(stack, { aud: 'app-a' }),
      'other issuer': logoutToken(stack, { iss: 'https://evil.example' }),
      'no events': logoutToken(stack, { events: undefined }),
      'wrong event': logoutToken(stack, { events: { 'urn:other': {} } }),
      'event not an object': logoutToken(stack, { events: { [BACKCHANNEL_LOGOUT_EVENT]: 'yes' } }),
      'nonce (an ID token)': logoutToken(stack, { nonce: 'n-1' }),
      'no sub, no sid': logoutToken(stack, { sub: undefined }),
      'no jti': logoutToken(stack, { jti: undefined }),
      'iat far in the past': logoutToken(stack, { iat: now - 3600, exp: now + 60 }),
      'iat in the future': logoutToken(stack, { iat: now + 3600 }),
      expired: logoutToken(stack, { exp: now - 600 }),
      'typ of an access token': logoutToken(stack, {}, { typ: 'at+jwt' }),
      'alg none': `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(logoutClaims(stack))).toString('base64url')}.`,
      garbage: 'not-a-jwt',
    }
    for (const [name, token] of Object.entries(invalid)) {
      const response = await postLogout(
        stack,
        new URLSearchParams({ logout_token: token }).toString(),
      )
      assert.equal(response.status, 400, name)
      assert.equal(response.headers.get('cache-control'), 'no-store')
      const body = (await response.json()) as { error: string }
      assert.equal(body.error, 'invalid_request', name)
      assert.ok(await isSignedIn(stack, browser), `${name}: the session must stay`)
    }
    const missing = await postLogout(stack, '')
    assert.equal(missing.status, 400)
    // A logout token for another IdP session of the same user ends nothing here.
    const otherSid = await postLogout(
      stack,
      new URLSearchParams({
        logout_token: logoutToken(stack, { sid: 'another-session' }),
      }).toString(),
    )
    assert.equal(otherSid.status, 200)
    assert.ok(await isSignedIn(stack, browser), 'a different sid ends nothing')
  })

  it('backchannelLogoutWhenTheTokenIsValidThenTheUsersSessionsEndAndAReplayIsRefused', async () => {
    const demo1 = await signInToAppB(stack)
    const demo2 = await signInToAppB(stack)
    const alice = await signInToAppB(stack, 'alice')
    const token = logoutToken(stack)
    const response = await postLogout(
      stack,
      new URLSearchParams({ logout_token: token }).toString(),
    )
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('cache-control'), 'no-store')
    assert.equal(await isSignedIn(stack, demo1), false, 'demo is signed out')
    assert.equal(await isSignedIn(stack, demo2), false, "demo's other session too")
    assert.equal(await isSignedIn(stack, alice), true, 'alice is not touched')
    // The old session cannot add a todo either.
    const add = await demo1.request(`${stack.env.APP_B_URL}/todos`, {
      method: 'POST',
      form: { title: 'after logout', _csrf: 'x' },
    })
    assert.notEqual(add.status, 303)
    const replay = await postLogout(stack, new URLSearchParams({ logout_token: token }).toString())
    assert.equal(replay.status, 400, 'the same jti twice is a replay')
  })
})
