/**
 * Drives a user's delegation to App D through the real pages: the device code page, the login
 * form, the consent screen — then lets the agent redeem the device code.
 */
import { join } from 'node:path'
import { createAgent, type Agent } from '../../../src/apps/app-d/agent.js'
import { TestBrowser, type BrowserResponse } from '../../helpers/browser.js'
import type { Stack } from '../../helpers/stack.js'

export function agentOf(stack: Stack, stateDir = join(stack.env.DATA_DIR, 'app-d')): Agent {
  return createAgent({
    issuer: stack.idp.issuer,
    clientId: stack.env.APP_D_CLIENT_ID,
    clientSecret: stack.env.APP_D_CLIENT_SECRET,
    appBUrl: stack.env.APP_B_URL,
    appBAudience: stack.env.APP_B_CLIENT_ID,
    stateDir,
  })
}

/** Up to the consent screen: the page showing it. */
export async function reachConsent(
  agent: Agent,
  { username = 'alice', browser = new TestBrowser() } = {},
): Promise<{
  page: BrowserResponse
  browser: TestBrowser
  login: Awaited<ReturnType<Agent['startLogin']>>
}> {
  const login = await agent.startLogin()
  // verification_uri_complete: oidc-provider's self-submitting form with the code, then our
  // confirmation page ("Is this the code Assistant shows?"), then the login form.
  let page = await browser.navigate(login.verificationUriComplete)
  page = await browser.submitForm(page, {}, '/device')
  if (!page.body.includes('op.deviceConfirmForm')) {
    throw new Error(`no code confirmation: ${page.status} ${page.url}`)
  }
  page = await browser.submitForm(page, {}, '/device')
  if (page.body.includes('action="/interaction/') && page.body.includes('name="password"')) {
    page = await browser.submitForm(page, { username, password: 'changeme' }, '/login')
  }
  return { page, browser, login }
}

/** The whole delegation: consent allowed, device code redeemed; resolves with the agent's state. */
export async function delegate(
  agent: Agent,
  options: { username?: string; browser?: TestBrowser } = {},
) {
  const { page, browser, login } = await reachConsent(agent, options)
  const done = await browser.submitForm(page, { decision: 'allow' }, '/consent')
  if (!done.body.includes('data-testid="device-done"')) {
    throw new Error(
      `delegation did not complete: ${done.status} ${done.url}\n${done.body.slice(0, 500)}`,
    )
  }
  const state = await agent.completeLogin(login)
  return { state, browser, consentPage: page }
}
