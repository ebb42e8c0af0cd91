/**
 * Issue 12 item 3 in a real headless Chromium: sign out of App A, confirm "every app" at the IdP,
 * and App B — signed in through single sign-on in the same browser — asks for sign-in again and
 * takes no new todo: the IdP told it over the back channel (OpenID Connect Back-Channel Logout
 * 1.0). On main App B kept showing the list and accepted todos. Also: signing in to App A again
 * after its sign-out asks for the password (never silent), and the confirm page says what each
 * button does.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { type BrowserContext, type Page } from 'playwright-core'
import {
  CHROMIUM,
  launchChromium,
  signInAtIdp,
  type LaunchedChromium,
} from '../helpers/chromium.js'
import { startStack, type Stack } from '../helpers/stack.js'

describe(
  'browser: signing out of App A signs the user out of App B',
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

    async function signInToAppA(page: Page) {
      await page.goto(stack.env.APP_A_URL)
      await page.getByTestId('sign-in').click()
      await page.waitForURL((url) => url.href.startsWith(`${stack.idp.issuer}/interaction/`))
      await signInAtIdp(page, 'demo')
      await page.waitForURL((url) => url.href.startsWith(stack.env.APP_A_URL))
      await page.getByTestId('logout-button').waitFor()
    }

    it('backchannelLogoutWhenSignedOutOfAppAEverywhereThenAppBAsksForSignInAndTakesNoTodo', async () => {
      const page = await context.newPage()
      await signInToAppA(page)

      // App B through single sign-on; one todo so there is something to lose.
      await page.goto(stack.env.APP_B_URL)
      const signIn = page.getByTestId('login-button')
      if (await signIn.count()) await signIn.click()
      await page.getByTestId('new-todo-title').waitFor()
      await page.getByTestId('new-todo-title').fill('before sign-out')
      await page.getByTestId('add-todo').click()
      await page.getByText('before sign-out').waitFor()
      const staleCsrf = await page.locator('input[name="_csrf"]').first().inputValue()

      // Sign out of App A; the IdP's page names App B and says what each button does.
      await page.goto(stack.env.APP_A_URL)
      await page.getByTestId('logout-button').click()
      await page.waitForURL((url) => url.href.startsWith(stack.idp.issuer))
      assert.match((await page.getByTestId('signed-in-apps').textContent()) ?? '', /App B/)
      assert.match(await page.content(), /You are signed out of App A/)
      await page.getByTestId('logout-everywhere').click()
      await page.waitForURL((url) => url.href.startsWith(stack.env.APP_A_URL))
      await page.getByTestId('landing').waitFor()

      // App B: signed out, the list is not shown, and the old form adds nothing.
      await page.goto(stack.env.APP_B_URL)
      await page.getByTestId('login-button').waitFor()
      assert.equal(await page.getByTestId('todo-list').count(), 0, 'App B shows no list')
      const add = await page.request.post(`${stack.env.APP_B_URL}/todos`, {
        form: { title: 'after sign-out', _csrf: staleCsrf },
        maxRedirects: 0,
      })
      assert.notEqual(add.status(), 303, 'the stale session cannot add a todo')
      assert.ok(add.status() >= 400, `status ${add.status()}`)

      // Signing in to App A again asks for the password: the IdP session is gone too.
      await page.goto(stack.env.APP_A_URL)
      await page.getByTestId('sign-in').click()
      await page.waitForURL((url) => url.href.startsWith(`${stack.idp.issuer}/interaction/`))
      await page.getByLabel('Password').waitFor()
    })

    it('signOutWhenOnlyAppAIsChosenThenTheNextAppASignInAsksForThePasswordAgain', async () => {
      const page = await context.newPage()
      await signInToAppA(page)
      await page.getByTestId('logout-button').click()
      await page.waitForURL((url) => url.href.startsWith(stack.idp.issuer))
      await page.getByTestId('logout-only-requester').click()
      await page.waitForURL((url) => url.href.startsWith(stack.env.APP_A_URL))
      await page.getByTestId('landing').waitFor()
      await page.getByTestId('sign-in').click()
      // Not silently signed back in: the IdP asks for the password (prompt=login).
      await page.waitForURL((url) => url.href.startsWith(`${stack.idp.issuer}/interaction/`))
      await page.getByLabel('Password').waitFor()
      assert.equal(await page.getByTestId('logout-button').count(), 0)
    })
  },
)
