/**
 * App B against the real embedded IdP over HTTP: a user signs in to App B's web UI and manages
 * their list; App A exchanges that user's token (RFC 8693) and reads the same list through the
 * service API; another user's exchanged token never sees it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildAppB } from '../../../src/apps/app-b/app.js'
import { createLogger } from '../../../src/log/logger.js'
import { TestBrowser, type BrowserResponse } from '../../helpers/browser.js'
import { exchangeToken, loginForTokens, startStack, type Stack } from '../../helpers/stack.js'

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'

describe('App B end to end', () => {
  let stack: Stack
  let appB: FastifyInstance
  const browser = new TestBrowser()
  let page: BrowserResponse

  before(async () => {
    stack = await startStack()
    appB = await buildAppB({ env: stack.env, logger: createLogger({ level: 'silent' }) })
    await stack.serve('appB', appB)
  })
  after(async () => {
    await appB?.close()
    await stack?.close()
  })

  async function exchangedTokenFor(username: string): Promise<string> {
    const login = await loginForTokens(stack, { clientId: 'app-a', username, password: 'changeme' })
    const exchanged = await exchangeToken(stack, {
      subject_token: login.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
      scope: 'todos:read',
    })
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body))
    return exchanged.body.access_token as string
  }

  test('a user signs in to App B and adds, completes and deletes todos', async () => {
    page = await browser.navigate(`${stack.env.APP_B_URL}/auth/login`)
    page = await browser.submitForm(page, { username: 'demo', password: 'changeme' }, '/login')
    assert.equal(page.status, 200, page.body.slice(0, 500))
    assert.ok(page.url.startsWith(stack.env.APP_B_URL), page.url)
    assert.match(page.body, /data-testid="todo-list"/)
    assert.ok(browser.cookieNames().includes('onbehalf_app_b_sid'))

    for (const title of ['buy bread', 'fix bike', 'drop me']) {
      page = await browser.submitForm(page, { title }, '/todos')
    }
    assert.equal([...page.body.matchAll(/data-testid="todo-item"/g)].length, 3)
    assert.match(page.body, /data-testid="todo-count">3 open of 3</)

    page = await browser.submitForm(page, {}, '/toggle')
    assert.match(page.body, /data-testid="todo-count">2 open of 3</)
    const lastDelete = [...page.body.matchAll(/action="(\/todos\/\d+\/delete)"/g)].at(-1)?.[1]
    page = await browser.submitForm(page, {}, lastDelete)
    assert.match(page.body, /data-testid="todo-count">1 open of 2</)
    assert.doesNotMatch(page.body, /drop me/)

    const invalid = await browser.submitForm(page, { title: '   ' }, '/todos')
    assert.equal(invalid.status, 400)
    assert.match(invalid.body, /data-testid="form-error"/)
  })

  test('App A, acting for the same user, reads that list through the service API', async () => {
    const token = await exchangedTokenFor('demo')
    const res = await fetch(`${stack.env.APP_B_URL}/api/todos`, {
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(res.status, 200)
    const body = (await res.json()) as {
      todos: { title: string }[]
      caller: string
      decidedBy: string
    }
    assert.deepEqual(
      body.todos.map((t) => t.title),
      ['buy bread', 'fix bike'],
    )
    assert.equal(body.caller, 'app-a')
    assert.equal(body.decidedBy, 'token')
  })

  test('another user’s exchanged token never shows the first user’s todos', async () => {
    const token = await exchangedTokenFor('alice')
    const res = await fetch(`${stack.env.APP_B_URL}/api/todos/count`, {
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(res.status, 200)
    const body = (await res.json()) as { count: number; user: string }
    assert.equal(body.count, 0)
    assert.notEqual(body.user, '3f9d2b8e-6a41-4c5e-9f2a-7d1e0c4b8a01')
  })

  test('App A’s own login token (not exchanged) is refused by App B', async () => {
    const login = await loginForTokens(stack, {
      clientId: 'app-a',
      username: 'demo',
      password: 'changeme',
    })
    const res = await fetch(`${stack.env.APP_B_URL}/api/todos`, {
      headers: { authorization: `Bearer ${login.access_token}` },
    })
    assert.equal(res.status, 401)
  })
})
