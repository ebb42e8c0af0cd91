import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { TestBrowser } from '../helpers/browser.js'
import { startStack, type Stack } from '../helpers/stack.js'

describe('IdP login page', () => {
  let stack: Stack
  before(async () => {
    stack = await startStack()
  })
  after(() => stack?.close())

  async function openLogin(browser: TestBrowser) {
    const authorize = new URL(`${stack.idp.issuer}/auth`)
    authorize.search = new URLSearchParams({
      client_id: 'app-a',
      redirect_uri: `${stack.env.APP_A_URL}/auth/callback`,
      response_type: 'code',
      scope: 'openid',
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString()
    return browser.navigate(authorize.href)
  }

  it('renders an accessible form with username and password fields', async () => {
    const page = await openLogin(new TestBrowser())
    assert.equal(page.status, 200)
    assert.match(page.body, /<label for="username">/)
    assert.match(page.body, /name="username"[^>]*autocomplete="username"/)
    assert.match(
      page.body,
      /name="password"[^>]*type="password"|type="password"[^>]*name="password"/,
    )
    assert.match(page.body, /App A/, 'names the client')
    assert.equal(page.headers.get('cache-control'), 'no-store')
  })

  for (const [name, username, password] of [
    ['a wrong password', 'demo', 'wrong'],
    ['an unknown user', 'nobody', 'changeme'],
    ['an empty password', 'demo', ''],
  ] as const) {
    it(`${name} answers "invalid username or password"`, async () => {
      const browser = new TestBrowser()
      const page = await openLogin(browser)
      const answer = await browser.submitForm(page, { username, password }, '/login')
      assert.equal(answer.status, 401)
      assert.match(answer.body, /invalid username or password/)
      assert.doesNotMatch(answer.body, /changeme" |wrong"/, 'password never echoed back')
    })
  }

  it('an interaction from another browser is refused (interactions are bound to their cookie)', async () => {
    const page = await openLogin(new TestBrowser())
    const action = /action="([^"]+)"/.exec(page.body)![1]!
    const answer = await new TestBrowser().request(new URL(action, page.url).href, {
      form: { username: 'demo', password: 'changeme' },
    })
    assert.equal(answer.status, 400)
  })

  it('the seed file stores only scrypt hashes', () => {
    const users = JSON.parse(readFileSync('config/users.json', 'utf8')).users as Array<
      Record<string, string>
    >
    assert.deepEqual(
      users.map((user) => user.username),
      ['demo', 'alice', 'bob'],
    )
    for (const user of users) {
      assert.match(user.passwordHash!, /^scrypt\$/)
      assert.equal(user.password, undefined)
    }
  })
})
