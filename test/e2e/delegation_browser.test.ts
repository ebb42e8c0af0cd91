/**
 * Chromium (playwright-core) on the delegation screens (issue 16): the device code page, the login
 * form, the consent screen ("Assistant may act for you at App B: …, until …", Allow by its role
 * and name), then the account page's Revoke button — after which the agent's next command fails.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AgentError } from '../../src/apps/app-d/agent.js'
import { agentOf } from '../apps/app-d/delegation_helpers.js'
import {
  chromiumSkip,
  launchChromium,
  signInAtIdp,
  type LaunchedChromium,
} from '../helpers/chromium.js'
import { startStack, type Stack } from '../helpers/stack.js'

const ARTIFACTS = 'test-artifacts'

describe('browser: delegating to the Assistant and revoking it', { skip: chromiumSkip }, () => {
  let stack: Stack
  let chromium: LaunchedChromium | undefined

  before(async () => {
    stack = await startStack({ apps: true })
    chromium = await launchChromium()
  })
  after(async () => {
    await chromium?.close()
    await stack?.close()
  })

  it('WhenUserAllowsOnTheConsentScreenAndLaterRevokesOnTheAccountPageThenTheAgentActsThenStops', async () => {
    const agent = agentOf(stack, mkdtempSync(join(tmpdir(), 'onbehalf-agent-')))
    const login = await agent.startLogin()
    const page = await chromium!.context.newPage()

    // The user opens the verification URL, checks the code, signs in.
    await page.goto(login.verificationUriComplete)
    await page.getByTestId('device-user-code').waitFor()
    assert.equal((await page.getByTestId('device-user-code').textContent())?.trim(), login.userCode)
    await page.getByRole('button', { name: 'Yes, continue' }).click()
    await signInAtIdp(page, 'alice')

    // The consent screen.
    const text = page.getByTestId('consent-text')
    await text.waitFor()
    assert.match(
      ((await text.textContent()) ?? '').replace(/\s+/g, ' ').trim(),
      /^Assistant may act for you at App B: todos:read, todos:write, until \d{4}-\d\d-\d\d \d\d:\d\d UTC$/,
    )
    assert.equal(await page.getByRole('heading', { name: 'Let Assistant act for you?' }).count(), 1)
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: join(ARTIFACTS, 'delegation-consent.png'), fullPage: true })
    await page.getByRole('button', { name: 'Allow' }).click()
    await page.getByTestId('device-done').waitFor()

    await agent.completeLogin(login)
    const added = await agent.addTodo('renew the passport')
    assert.equal(added.value.addedBy, 'app-d')

    // App A's dashboard and App B's list say who wrote it, from App B's token-derived answer.
    await page.goto(stack.env.APP_A_URL)
    await page
      .getByRole('link', { name: /sign in/i })
      .first()
      .click()
    await page.getByTestId('actor-write').first().waitFor()
    assert.match(
      ((await page.getByTestId('actor-write').first().textContent()) ?? '').replace(/\s+/g, ' '),
      /renew the passport — added by Assistant on your behalf/,
    )
    await page.goto(stack.env.APP_B_URL)
    const signIn = page.getByRole('link', { name: /sign in/i })
    if (await signIn.count()) await signIn.first().click()
    await page.getByTestId('todo-provenance').first().waitFor()
    assert.equal(
      (await page.getByTestId('todo-provenance').first().textContent())?.trim(),
      'added by Assistant on your behalf',
    )

    // The account page lists it; Revoke removes it.
    await page.goto(`${stack.idp.issuer}/account/delegations`)
    await page.getByTestId('delegation').waitFor()
    assert.match((await page.getByTestId('delegation').textContent()) ?? '', /Assistant/)
    await page.screenshot({ path: join(ARTIFACTS, 'delegation-account.png'), fullPage: true })
    await page.getByRole('button', { name: 'Revoke Assistant at App B' }).click()
    await page.getByTestId('delegations-notice').waitFor()
    assert.equal(await page.getByTestId('delegation').count(), 0)
    assert.equal(await page.getByTestId('no-delegations').count(), 1)

    await assert.rejects(
      agent.addTodo('after revoke'),
      (error: unknown) => error instanceof AgentError && error.reason === 'delegation_ended',
    )
    await page.close()
  })
})
