/**
 * The scenario people come for, in a real headless Chromium (Debian's, driven by playwright-core):
 * sign in to App A as demo, open App B (single sign-on: no second password prompt), add three
 * todos, return to App A and see "3" with the green RFC 8693 badge. Saves a screenshot of the
 * dashboard to test-artifacts/.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type BrowserContext, type Page } from 'playwright-core'
import {
  CHROMIUM,
  launchChromium,
  signInAtIdp,
  type LaunchedChromium,
} from '../helpers/chromium.js'
import { startStack, type Stack } from '../helpers/stack.js'

const ARTIFACTS = 'test-artifacts'

describe(
  'browser: App A → App B on behalf of the user',
  {
    skip: existsSync(CHROMIUM)
      ? false
      : `Chromium not installed at ${CHROMIUM} (.ci/run installs it)`,
  },
  () => {
    let stack: Stack
    let context: BrowserContext
    let chromium: LaunchedChromium | undefined

    before(async () => {
      stack = await startStack({ apps: true })
      chromium = await launchChromium()
      context = chromium.context
    })

    after(async () => {
      await chromium?.close()
      await stack?.close()
    })

    it('demo signs in to App A, adds 3 todos in App B through SSO, and App A shows 3 with the green badge', async () => {
      const page: Page = await context.newPage()
      let passwordPrompts = 0
      page.on('framenavigated', async (frame) => {
        if (frame === page.mainFrame() && frame.url().includes('/interaction/')) passwordPrompts++
      })

      await page.goto(stack.env.APP_A_URL)
      await page
        .getByRole('link', { name: /sign in/i })
        .first()
        .click()
      await page.waitForURL((url) => url.href.startsWith(stack.idp.issuer))
      await signInAtIdp(page, 'demo')
      await page.waitForURL((url) => url.href.startsWith(stack.env.APP_A_URL))
      await page.getByTestId('todo-count').waitFor()
      assert.equal((await page.getByTestId('todo-count').textContent())?.trim(), '0')
      assert.equal(passwordPrompts, 1)

      // App B: single sign-on, no second password prompt.
      await page.goto(stack.env.APP_B_URL)
      const signIn = page.getByRole('link', { name: /sign in/i })
      if (await signIn.count()) await signIn.first().click()
      await page.getByTestId('new-todo-title').waitFor()
      assert.equal(passwordPrompts, 1, 'App B logged in without a second password prompt')
      for (const title of ['Buy milk', 'Write the RFC 8693 note', 'Rotate the keys']) {
        await page.getByTestId('new-todo-title').fill(title)
        await page.getByTestId('add-todo').click()
        await page.getByText(title).waitFor()
      }
      assert.equal(await page.getByTestId('todo-item').count(), 3)

      await page.goto(stack.env.APP_A_URL)
      await page.getByTestId('todo-count').waitFor()
      assert.equal((await page.getByTestId('todo-count').textContent())?.trim(), '3')
      const badge = page.getByTestId('method-badge')
      assert.match((await badge.textContent()) ?? '', /RFC 8693/)
      assert.match((await badge.getAttribute('class')) ?? '', /badge-green/)

      const html = await page.content()
      for (const cookie of await context.cookies())
        assert.ok(!/^ey[\w-]+\.ey/.test(cookie.value), `cookie ${cookie.name} holds no JWT`)
      assert.doesNotMatch(html, /ey[\w-]{10,}\.ey[\w-]{10,}\.[\w-]+/, 'no token in the page')

      mkdirSync(ARTIFACTS, { recursive: true })
      await page.screenshot({ path: join(ARTIFACTS, 'app-a-dashboard.png'), fullPage: true })
    })
  },
)
