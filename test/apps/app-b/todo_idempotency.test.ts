/**
 * Issue 12 item 7: todo creation in App B is idempotent per key. On main a write that was stored
 * but never acknowledged (1–4 per kill -9 round) became a duplicate when the client retried. Now
 * the add form carries a fresh idempotency key (or an API client sends `Idempotency-Key`): the same
 * key twice stores one todo, a new key another; a key reused for another title is 422. Over real
 * HTTP against the real IdP, App B and App C.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestBrowser, type BrowserResponse } from '../../helpers/browser.js'
import { startStack, type Stack } from '../../helpers/stack.js'

const hidden = (page: BrowserResponse, name: string) =>
  new RegExp(`name="${name}" value="([^"]+)"`).exec(page.body)?.[1]

const titles = (page: BrowserResponse) =>
  [...page.body.matchAll(/data-testid="todo-title"\s*>([^<]+)</g)].map((m) => m[1]!.trim())

describe('App B todo creation with an idempotency key', () => {
  let stack: Stack
  let browser: TestBrowser
  before(async () => {
    stack = await startStack({ apps: true })
    browser = new TestBrowser()
    const form = await browser.navigate(`${stack.env.APP_B_URL}/auth/login`)
    const page = await browser.submitForm(
      form,
      { username: 'alice', password: 'changeme' },
      '/login',
    )
    assert.match(page.body, /data-testid="todo-list"/)
  })
  after(async () => {
    await stack?.close()
  })

  const list = () => browser.request(`${stack.env.APP_B_URL}/`)
  const add = (form: Record<string, string>, headers: Record<string, string> = {}) =>
    browser.request(`${stack.env.APP_B_URL}/todos`, { method: 'POST', form, headers })

  it('addTodoWhenTheSameFormIsSubmittedTwiceThenOneTodoIsStoredAndBothAnswersAreTheSame', async () => {
    const page = await list()
    const form = {
      _csrf: hidden(page, '_csrf')!,
      idempotencyKey: hidden(page, 'idempotencyKey')!,
      title: 'pay the rent',
    }
    assert.match(form.idempotencyKey, /^[0-9a-f-]{36}$/, 'the form carries a key')
    const first = await add(form)
    const retry = await add(form)
    assert.equal(first.status, 303)
    assert.equal(retry.status, 303)
    assert.equal(retry.headers.get('location'), first.headers.get('location'))
    assert.deepEqual(
      titles(await list()).filter((t) => t === 'pay the rent'),
      ['pay the rent'],
      'stored once, not twice',
    )
    // The next rendered form has a new key, so a deliberate second todo is stored.
    const next = await list()
    assert.notEqual(hidden(next, 'idempotencyKey'), form.idempotencyKey)
    await add({ ...form, idempotencyKey: hidden(next, 'idempotencyKey')! })
    assert.equal(titles(await list()).filter((t) => t === 'pay the rent').length, 2)
  })

  it('addTodoWhenTheIdempotencyKeyHeaderRepeatsThenNoDuplicateAndAnotherTitleIs422', async () => {
    const csrf = hidden(await list(), '_csrf')!
    const key = 'retry-key-0001'
    for (let i = 0; i < 3; i++) {
      const response = await add(
        { _csrf: csrf, title: 'water the plants' },
        { 'idempotency-key': key },
      )
      assert.equal(response.status, 303)
    }
    assert.equal(titles(await list()).filter((t) => t === 'water the plants').length, 1)
    const conflict = await add({ _csrf: csrf, title: 'something else' }, { 'idempotency-key': key })
    assert.equal(conflict.status, 422)
    assert.ok(!titles(await list()).includes('something else'), 'nothing stored for the conflict')
  })

  it('addTodoWhenTheIdempotencyKeyIsMalformedThen400AndNothingStored', async () => {
    const csrf = hidden(await list(), '_csrf')!
    for (const key of ['short', 'x'.repeat(129), 'has space in it', '../../etc']) {
      const response = await add({
        _csrf: csrf,
        title: `bad key ${key.length}`,
        idempotencyKey: key,
      })
      assert.equal(response.status, 400, key)
    }
    assert.ok(!titles(await list()).some((t) => t.startsWith('bad key')))
  })

  it('completeTodoWhenTheSameToggleFormIsSubmittedTwiceThenItStaysDoneNotFlippedBack', async () => {
    const page = await list()
    const csrf = hidden(page, '_csrf')!
    await add({ _csrf: csrf, title: 'call the plumber', idempotencyKey: 'toggle-test-key-1' })
    const listed = await list()
    const item = [
      ...listed.body.matchAll(/data-todo-id="(\d+)"[\s\S]*?data-testid="todo-title"\s*>([^<]+)</g),
    ].find((m) => m[2]!.trim() === 'call the plumber')
    assert.ok(item, 'the todo is listed')
    const form = { _csrf: csrf, completed: 'true' }
    assert.match(
      listed.body,
      new RegExp(`/todos/${item[1]}/toggle[\\s\\S]*?name="completed" value="true"`),
    )
    for (let i = 0; i < 2; i++) {
      const response = await browser.request(`${stack.env.APP_B_URL}/todos/${item[1]}/toggle`, {
        method: 'POST',
        form,
      })
      assert.equal(response.status, 303)
    }
    const after = await list()
    assert.match(
      after.body,
      new RegExp(`data-todo-id="${item[1]}"\\s+data-completed="true"`),
      'done after two identical submissions, not reopened',
    )
  })
})
