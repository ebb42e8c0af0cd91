/**
 * Abuse limits at the IdP (issue 5 item 4), over HTTP against live IdPs with small limits: the
 * login form per client IP and per username (no user enumeration: unknown and known users are
 * throttled alike), the token endpoint per client IP and per authenticated client_id, and body
 * sizes. Refusals are 429 with Retry-After; the token endpoint adds an RFC 6749 JSON error.
 */
import assert from 'node:assert/strict'
import { randomBytes, createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { DEFAULT_ABUSE_LIMITS, resolveAbuseLimits, createRateLimiter } from '../../src/idp/app.js'
import { TestBrowser, type BrowserResponse } from '../helpers/browser.js'
import { basicAuth, loginForTokens, type Stack } from '../helpers/stack.js'
import { ACCESS_TOKEN, postToken, startLiveIdp } from './helpers.js'

const LOOSE = { max: 1000, windowSeconds: 60 }
const exchangeForm = (subject = 'x.y.z') =>
  new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: subject,
    subject_token_type: ACCESS_TOKEN,
    audience: 'app-b',
  })

/** Opens the IdP login form for app-a in a fresh browser. */
async function openLoginForm(
  stack: Stack,
): Promise<{ browser: TestBrowser; page: BrowserResponse }> {
  const browser = new TestBrowser()
  const authorize = new URL(`${stack.idp.issuer}/auth`)
  authorize.search = new URLSearchParams({
    client_id: 'app-a',
    redirect_uri: `${stack.env.APP_A_URL}/auth/callback`,
    response_type: 'code',
    scope: 'openid todos:read',
    code_challenge: createHash('sha256')
      .update(randomBytes(32).toString('base64url'))
      .digest('base64url'),
    code_challenge_method: 'S256',
  }).toString()
  const page = await browser.navigate(authorize.href)
  assert.equal(page.status, 200)
  assert.match(page.body, /<form/)
  return { browser, page }
}

function submitLogin(
  browser: TestBrowser,
  page: BrowserResponse,
  username: string,
  password: string,
) {
  return browser.submitForm(page, { username, password }, '/login', {
    stopAt: (url) => url.startsWith(page.url.split('/interaction')[0]!) === false,
  })
}

describe('abuse limits: configuration', () => {
  it('abuse limits: defaults are on, and invalid overrides fail at start-up with a TypeError', () => {
    assert.deepEqual(resolveAbuseLimits(), DEFAULT_ABUSE_LIMITS)
    assert.equal(DEFAULT_ABUSE_LIMITS.enabled, true)
    assert.throws(
      () => resolveAbuseLimits({ tokenPerIp: { max: 0, windowSeconds: 60 } }),
      TypeError,
    )
    assert.throws(() => resolveAbuseLimits({ tokenBodyBytes: 10 }), TypeError)
  })
  it('abuse limits: a fixed window refuses past max, says how long to wait, then reopens', () => {
    let now = 1_000
    const limiter = createRateLimiter(
      { max: 2, windowSeconds: 10 },
      { maxKeys: 100, now: () => now },
    )
    limiter.hit('k')
    limiter.hit('k')
    assert.equal(limiter.retryAfter('k'), 10)
    assert.equal(limiter.retryAfter('other'), 0)
    now += 9.5
    assert.equal(limiter.retryAfter('k'), 1)
    now += 0.6
    assert.equal(limiter.retryAfter('k'), 0)
  })
  it('abuse limits: the limiter stays bounded under many distinct keys', () => {
    const limiter = createRateLimiter({ max: 1, windowSeconds: 60 }, { maxKeys: 100 })
    for (let i = 0; i < 10_000; i++) limiter.hit(`key-${i}`)
    assert.equal(limiter.retryAfter('key-9999'), 60)
    assert.equal(limiter.retryAfter('key-0'), 0, 'oldest window dropped')
  })
})

describe('abuse limits: login form', () => {
  let perIp: Stack
  let perUser: Stack
  before(async () => {
    perIp = await startLiveIdp({ abuseLimits: { loginPerIp: { max: 3, windowSeconds: 60 } } })
    perUser = await startLiveIdp({
      abuseLimits: {
        loginPerIp: LOOSE,
        loginFailuresPerUsername: { max: 2, windowSeconds: 60 },
        loginBodyBytes: 1024,
      },
    })
  })
  after(async () => {
    await perIp?.close()
    await perUser?.close()
  })

  it('login limits: per IP, the fourth POST in a window is 429 with Retry-After', async () => {
    const { browser, page } = await openLoginForm(perIp)
    const statuses: number[] = []
    let last: BrowserResponse = page
    for (let i = 0; i < 4; i++) {
      last = await submitLogin(browser, page, `user${i}`, 'wrong-password')
      statuses.push(last.status)
    }
    assert.deepEqual(statuses, [401, 401, 401, 429])
    assert.match(last.headers.get('retry-after') ?? '', /^[1-9]\d*$/)
    assert.equal(last.headers.get('cache-control'), 'no-store')
  })

  it('login limits: per username, throttled after failures, and a correct password then is refused too', async () => {
    const { browser, page } = await openLoginForm(perUser)
    assert.equal((await submitLogin(browser, page, 'alice', 'wrong-1')).status, 401)
    assert.equal((await submitLogin(browser, page, ' Alice', 'wrong-2')).status, 401)
    const throttled = await submitLogin(browser, page, 'alice', 'changeme')
    assert.equal(throttled.status, 429)
    assert.match(throttled.headers.get('retry-after') ?? '', /^[1-9]\d*$/)
    assert.match(throttled.body, /too many sign-in attempts/)
    // Other users are not affected.
    const other = await openLoginForm(perUser)
    const ok = await submitLogin(other.browser, other.page, 'demo', 'changeme')
    assert.ok(ok.status === 303 || ok.status === 302 || ok.status === 200, `status ${ok.status}`)
    assert.ok(!/too many/.test(ok.body))
  })

  it('login limits: no user enumeration — an unknown username is throttled exactly like a known one', async () => {
    const answers: Record<string, Array<[number, string | null, string]>> = {}
    for (const username of ['BOB', 'NO-SUCH-USER']) {
      const { browser, page } = await openLoginForm(perUser)
      answers[username] = []
      for (let i = 0; i < 3; i++) {
        const response = await submitLogin(browser, page, username, `wrong-${i}`)
        const body = response.body
          .replaceAll(username, 'USERNAME')
          .replace(/\/interaction\/[^/"]+/g, '/interaction/UID')
        answers[username]!.push([
          response.status,
          response.headers.get('retry-after') === null ? null : 'set',
          body,
        ])
      }
    }
    assert.deepEqual(
      answers['BOB']!.map(([status]) => status),
      [401, 401, 429],
    )
    assert.deepEqual(answers['NO-SUCH-USER'], answers['BOB'])
  })

  it('login limits: a login form body beyond the limit is refused with 413', async () => {
    const { browser, page } = await openLoginForm(perUser)
    const response = await submitLogin(browser, page, 'demo', 'x'.repeat(4096))
    assert.equal(response.status, 413)
  })
})

describe('abuse limits: token endpoint', () => {
  let perIp: Stack
  let perClient: Stack
  before(async () => {
    perIp = await startLiveIdp({ abuseLimits: { tokenPerIp: { max: 3, windowSeconds: 60 } } })
    perClient = await startLiveIdp({
      abuseLimits: {
        tokenPerIp: LOOSE,
        tokenPerClient: { max: 2, windowSeconds: 60 },
        tokenBodyBytes: 2048,
      },
    })
  })
  after(async () => {
    await perIp?.close()
    await perClient?.close()
  })

  it('token limits: per IP, the fourth request is 429, Retry-After and an RFC 6749 JSON error', async () => {
    const auth = { authorization: basicAuth('app-a', perIp.env.APP_A_CLIENT_SECRET) }
    const statuses: number[] = []
    let last!: Awaited<ReturnType<typeof postToken>>
    for (let i = 0; i < 4; i++) {
      last = await postToken(perIp, exchangeForm(), i % 2 ? {} : auth)
      statuses.push(last.status)
    }
    assert.deepEqual(
      statuses.slice(0, 3).map((s) => s === 400 || s === 401),
      [true, true, true],
    )
    assert.equal(last.status, 429)
    assert.match(last.headers.get('retry-after') ?? '', /^[1-9]\d*$/)
    assert.equal(last.headers.get('cache-control'), 'no-store')
    assert.match(last.headers.get('content-type') ?? '', /application\/json/)
    assert.equal(last.body.error, 'temporarily_unavailable')
    assert.equal(typeof last.body.error_description, 'string')
  })

  it('token limits: per client_id, only authenticated requests count, then 429', async () => {
    const good = { authorization: basicAuth('app-a', perClient.env.APP_A_CLIENT_SECRET) }
    const forged = { authorization: basicAuth('app-a', 'wrong-secret-wrong-secret-wrong-secret') }
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await postToken(perClient, exchangeForm(), forged)).status,
        401,
        'forged requests do not lock app-a out',
      )
    }
    assert.equal((await postToken(perClient, exchangeForm(), good)).status, 400)
    assert.equal((await postToken(perClient, exchangeForm(), good)).status, 400)
    const limited = await postToken(perClient, exchangeForm(), good)
    assert.equal(limited.status, 429)
    assert.equal(limited.body.error, 'temporarily_unavailable')
    assert.match(limited.headers.get('retry-after') ?? '', /^[1-9]\d*$/)
    // Another client is not affected.
    const appB = await postToken(perClient, exchangeForm(), {
      authorization: basicAuth('app-b', perClient.env.APP_B_CLIENT_SECRET),
    })
    assert.notEqual(appB.status, 429)
  })

  it('token limits: a declared body beyond the limit is invalid_request before it is read', async () => {
    const response = await postToken(perClient, exchangeForm('A'.repeat(3000)), {
      authorization: basicAuth('app-b', perClient.env.APP_B_CLIENT_SECRET),
    })
    assert.equal(response.status, 400)
    assert.deepEqual(response.body, {
      error: 'invalid_request',
      error_description: 'request body is too large',
    })
  })

  it('token limits: the default limits leave a normal login and exchange untouched', async () => {
    const stack = await startLiveIdp()
    try {
      const tokens = await loginForTokens(stack, { username: 'demo' })
      for (let i = 0; i < 20; i++) {
        const response = await postToken(stack, exchangeForm(tokens.access_token), {
          authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET),
        })
        assert.equal(response.status, 200, JSON.stringify(response.body))
      }
    } finally {
      await stack.close()
    }
  })
})
