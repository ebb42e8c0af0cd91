/**
 * Issue 12 item 4: a crafted `returnTo` never breaks sign-in. On main `returnTo=/😀` (or a decoded
 * U+2028) passed the check, then the callback's redirect threw ERR_INVALID_CHAR: 500, the code
 * spent, the user not signed in. Now the return path is validated and encoded once: the callback
 * answers 303 to a printable-ASCII same-origin path (or `/`), and the user is signed in. App A and
 * App B share the web kit; both are driven through the real IdP login form over HTTP.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestBrowser, type BrowserResponse } from '../helpers/browser.js'
import { startStack, type Stack } from '../helpers/stack.js'

/** returnTo as sent in the query (already percent-encoded), and the Location the callback must send. */
const CASES: ReadonlyArray<{ query: string; expected: string }> = [
  { query: encodeURIComponent('/😀'), expected: '/%F0%9F%98%80' },
  { query: '%2F%E2%80%A8', expected: '/%E2%80%A8' },
  { query: encodeURIComponent('/%E2%80%A8'), expected: '/%E2%80%A8' },
  { query: encodeURIComponent('/a b?c=d e'), expected: '/a%20b?c=d%20e' },
  { query: encodeURIComponent('/todos?x=1'), expected: '/todos?x=1' },
  // Not UTF-8: the query parser gives no usable value, so the fallback.
  { query: '%2F%ED%A0%80', expected: '/' },
  { query: encodeURIComponent('/.//evil.example'), expected: '/' },
  { query: encodeURIComponent('/x/..//evil.example/'), expected: '/' },
  { query: encodeURIComponent('/\t/evil.example'), expected: '/' },
  { query: encodeURIComponent('//evil.example'), expected: '/' },
]

/**
 * Signs in at `appUrl` with `returnTo` and returns the callback's answer (not followed further).
 */
async function signInReturningTo(
  stack: Stack,
  appUrl: string,
  returnToQuery: string,
): Promise<{ browser: TestBrowser; callback: BrowserResponse }> {
  const browser = new TestBrowser()
  const afterCallback = (url: string) =>
    url.startsWith(appUrl) && !new URL(url).pathname.startsWith('/auth/')
  const form = await browser.navigate(`${appUrl}/auth/login?returnTo=${returnToQuery}`)
  assert.equal(form.status, 200, `login form expected, got ${form.status}`)
  const callback = await browser.submitForm(
    form,
    { username: 'demo', password: 'changeme' },
    '/login',
    { stopAt: afterCallback },
  )
  return { browser, callback }
}

describe('returnTo after sign-in', () => {
  let stack: Stack
  before(async () => {
    stack = await startStack({ apps: true })
  })
  after(async () => {
    await stack?.close()
  })

  for (const app of ['App A', 'App B'] as const) {
    it(`returnToWhenCraftedThenTheCallbackRedirectsToAnEncodedSameOriginPathAndTheUserIsSignedIn (${app})`, async () => {
      const appUrl = app === 'App A' ? stack.env.APP_A_URL : stack.env.APP_B_URL
      for (const { query, expected } of CASES) {
        const { browser, callback } = await signInReturningTo(stack, appUrl, query)
        assert.equal(callback.status, 303, `${query}: callback answered ${callback.status}`)
        const location = callback.headers.get('location')
        assert.equal(location, expected, query)
        assert.match(location!, /^\/[\x21-\x7e]*$/)
        assert.ok(!location!.startsWith('//'), 'never scheme-relative')
        // Signed in: the page behind sign-in answers, no new redirect to /auth/login.
        const page = await browser.request(`${appUrl}${app === 'App A' ? '/todos' : '/'}`)
        assert.equal(page.status, 200, `${query}: not signed in (${page.status})`)
        if (app === 'App B') assert.match(page.body, /data-testid="todo-list"/)
      }
    })
  }

  it('returnToWhenAnAnonymousRequestHasAWeirdPathThenTheSignInRedirectIsAsciiAndNot500', async () => {
    const browser = new TestBrowser()
    const response = await browser.request(
      `${stack.env.APP_A_URL}/todos?q=%E2%80%A8&e=%F0%9F%98%80`,
    )
    assert.equal(response.status, 303)
    assert.equal(
      response.headers.get('location'),
      `/auth/login?returnTo=${encodeURIComponent('/todos?q=%E2%80%A8&e=%F0%9F%98%80')}`,
    )
  })
})
