/**
 * The seed's scenario on a real Keycloak, in headless Chromium: demo signs in to App A through
 * Keycloak's own login page, opens App B (single sign-on at Keycloak: no second password prompt),
 * adds three todos, and App A shows 3 with the green RFC 8693 badge and the Token Exchange Info
 * card built from Keycloak's real tokens (iss = the realm, sub = demo's Keycloak id, aud app-b).
 * Screenshots: test-artifacts/keycloak-login.png, test-artifacts/keycloak-app-a-dashboard.png.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type BrowserContext } from 'playwright-core'
import { CHROMIUM, launchChromium, type LaunchedChromium } from '../helpers/chromium.js'
import { skipWithoutKeycloak, startKeycloakStack, type FreshRealm } from '../helpers/keycloak.js'
import type { Stack } from '../helpers/stack.js'

const ARTIFACTS = 'test-artifacts'

describe(
  'live Keycloak in the browser: App A → App B on behalf of the user',
  {
    skip:
      skipWithoutKeycloak ||
      (existsSync(CHROMIUM)
        ? false
        : `Chromium not installed at ${CHROMIUM} (.ci/run installs it)`),
  },
  () => {
    let realm: FreshRealm
    let stack: Stack
    let context: BrowserContext
    let chromium: LaunchedChromium | undefined

    before(async () => {
      ;({ realm, stack } = await startKeycloakStack('onbehalf-browser'))
      chromium = await launchChromium()
      context = chromium.context
    })

    after(async () => {
      await chromium?.close()
      await stack?.close()
      await realm?.remove()
    })

    it('WhenDemoSignsInAtKeycloaksLoginPageAndAddsThreeTodosInAppBThenAppAShowsThreeWithTheGreenBadgeAndKeycloaksClaims', async () => {
      const page = await context.newPage()
      let passwordPrompts = 0
      mkdirSync(ARTIFACTS, { recursive: true })

      await page.goto(stack.env.APP_A_URL)
      await page.getByTestId('sign-in').click()
      await page.waitForURL((url) => url.href.startsWith(realm.issuer))
      // Keycloak's own login page (the keycloak.v2 theme), not onbehalf's.
      await page.locator('#kc-form-login').waitFor()
      await page.screenshot({ path: join(ARTIFACTS, 'keycloak-login.png') })
      await page.locator('#username').fill('demo')
      await page.locator('#password').fill('changeme')
      passwordPrompts++
      await page.locator('#kc-login').click()
      await page.waitForURL((url) => url.href.startsWith(stack.env.APP_A_URL))
      await page.getByTestId('todo-count').waitFor()
      assert.equal((await page.getByTestId('todo-count').textContent())?.trim(), '0')

      // App B: single sign-on at Keycloak, no second login form.
      await page.goto(stack.env.APP_B_URL)
      const signIn = page.getByRole('link', { name: /sign in/i })
      if (await signIn.count()) await signIn.first().click()
      await page
        .getByTestId('new-todo-title')
        .waitFor()
        .catch(async (error: unknown) => {
          await page.screenshot({ path: join(ARTIFACTS, 'keycloak-app-b-failure.png') })
          throw new Error(
            `App B did not open at ${page.url()}: ${(await page.textContent('body'))?.slice(0, 400)}`,
            { cause: error },
          )
        })
      assert.equal(await page.locator('#kc-form-login').count(), 0, 'no second password prompt')
      assert.equal(passwordPrompts, 1)
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
      assert.equal(
        (await page.getByTestId('app-b-user').textContent())
          ?.trim()
          .includes(await realm.userId('demo')) ||
          /demo/.test((await page.getByTestId('app-b-user').textContent()) ?? ''),
        true,
        'App B served demo',
      )
      const info = page.getByTestId('exchange-info')
      await info.waitFor()
      const infoText = (await info.textContent()) ?? ''
      assert.match(infoText, /Token Exchange Info/)
      assert.ok(infoText.includes(realm.issuer), "the card shows Keycloak's issuer")
      assert.ok(infoText.includes(await realm.userId('demo')), "and demo's Keycloak id as sub")
      assert.match(infoText, /app-b/)
      assert.equal(await page.getByTestId('exchange-error').count(), 0)

      const html = await page.content()
      // Keycloak's own session cookie (KEYCLOAK_IDENTITY, path /realms/<realm>/) is an HS512 JWT;
      // the apps' cookies must hold none.
      const appCookies = (await context.cookies()).filter((c) => !c.path.startsWith('/realms/'))
      assert.ok(appCookies.some((c) => c.name === 'onbehalf_app_a_sid'))
      for (const cookie of appCookies)
        assert.ok(!/^ey[\w-]+\.ey/.test(cookie.value), `cookie ${cookie.name} holds no JWT`)
      assert.doesNotMatch(html, /ey[\w-]{10,}\.ey[\w-]{10,}\.[\w-]+/, 'no token in the page')
      await page.screenshot({
        path: join(ARTIFACTS, 'keycloak-app-a-dashboard.png'),
        fullPage: true,
      })
    })
  },
)
