/**
 * Issue 12 item 7: the login form trims the username, then refuses what is too long; it never cuts
 * a value to fit. On main the username was cut to 64 characters before trimming, so
 * "demo" + 60 spaces + "IGNORED" signed in as demo.
 */
import assert from 'node:assert/strict'
import { randomBytes, createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { TestBrowser, type BrowserResponse } from '../helpers/browser.js'
import type { Stack } from '../helpers/stack.js'
import { startLiveIdp } from './helpers.js'

async function tryLogin(
  stack: Stack,
  username: string,
  password: string,
): Promise<BrowserResponse> {
  const browser = new TestBrowser()
  const authorize = new URL(`${stack.idp.issuer}/auth`)
  authorize.search = new URLSearchParams({
    client_id: 'app-a',
    redirect_uri: `${stack.env.APP_A_URL}/auth/callback`,
    response_type: 'code',
    scope: 'openid',
    code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString()
  const form = await browser.navigate(authorize.href)
  assert.equal(form.status, 200)
  return browser.submitForm(form, { username, password }, '/login', {
    stopAt: (url) => url.startsWith(`${stack.env.APP_A_URL}/auth/callback`),
  })
}

const signedIn = (response: BrowserResponse) => /[?&]code=/.test(response.url)

describe('login form input', () => {
  let stack: Stack
  before(async () => {
    stack = await startLiveIdp({
      abuseLimits: { loginFailuresPerUsername: { max: 100, windowSeconds: 60 } },
    })
  })
  after(async () => {
    await stack?.close()
  })

  it('loginWhenTheUsernameIsPaddedPast64CharactersThenItIsRefusedNotCutToDemo', async () => {
    const response = await tryLogin(stack, `demo${' '.repeat(60)}IGNORED`, 'changeme')
    assert.equal(response.status, 401)
    assert.equal(signedIn(response), false, 'no authorization code')
    assert.match(response.body, /invalid username or password/)
  })

  it('loginWhenTheUsernameHasSurroundingSpacesThenItIsTrimmedAndSignsIn', async () => {
    const response = await tryLogin(stack, `   demo${' '.repeat(80)}`, 'changeme')
    assert.ok(signedIn(response), `expected a code, got ${response.status} ${response.url}`)
  })

  it('loginWhenThePasswordIsLongerThan256CharactersThenItIsRefusedNotCut', async () => {
    const response = await tryLogin(stack, 'demo', `changeme${'x'.repeat(300)}`)
    assert.equal(response.status, 401)
    assert.equal(signedIn(response), false)
  })
})
