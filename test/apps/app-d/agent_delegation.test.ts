/**
 * Issue 16 part 1: App D ("Assistant") acting for a user who delegated to it, over real HTTP
 * against the real stack (IdP, App B with APP_B_INTROSPECTION=delegated, its default): the device
 * flow and consent pages, `may_act` in the user's token, the RFC 8693 exchange with an actor
 * token, App B recording `act.sub`, the account page's revoke, delegation expiry, CSRF on both
 * forms, and the `onbehalf agent` CLI.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { AgentError } from '../../../src/apps/app-d/agent.js'
import { TestBrowser } from '../../helpers/browser.js'
import {
  basicAuth,
  decodeJwt,
  exchangeToken,
  loginForTokens,
  startStack,
  type Stack,
} from '../../helpers/stack.js'
import { agentOf, delegate, reachConsent } from './delegation_helpers.js'

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const run = promisify(execFile)

/** The agent's own token (client_credentials): the actor token of its exchanges. */
async function actorTokenOf(stack: Stack): Promise<string> {
  const response = await fetch(`${stack.idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: basicAuth('app-d', stack.env.APP_D_CLIENT_SECRET),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  })
  const body = (await response.json()) as { access_token: string }
  assert.equal(response.status, 200, JSON.stringify(body))
  return body.access_token
}

/** The user's token as the agent holds it: the refresh grant on the delegation. */
async function refreshAs(stack: Stack, refreshToken: string) {
  const response = await fetch(`${stack.idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: basicAuth('app-d', stack.env.APP_D_CLIENT_SECRET),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  })
  return { status: response.status, body: (await response.json()) as Record<string, any> }
}

function exchangeAsAgent(stack: Stack, subjectToken: string, actorToken: string) {
  return exchangeToken(
    stack,
    {
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN,
      actor_token: actorToken,
      actor_token_type: ACCESS_TOKEN,
      audience: 'app-b',
      scope: 'todos:read todos:write',
    },
    { clientId: 'app-d', secret: stack.env.APP_D_CLIENT_SECRET },
  )
}

async function introspectAsAppB(stack: Stack, token: string) {
  const response = await fetch(`${stack.idp.issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: basicAuth('app-b', stack.env.APP_B_CLIENT_SECRET),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  })
  return (await response.json()) as Record<string, unknown>
}

async function appBCount(stack: Stack, token: string) {
  const response = await fetch(`${stack.env.APP_B_URL}/api/todos/count`, {
    headers: { authorization: `Bearer ${token}` },
  })
  return { status: response.status, body: (await response.json()) as Record<string, any> }
}

/** Revokes the user's delegations through the account page, as the signed-in browser. */
async function revokeAll(stack: Stack, browser: TestBrowser) {
  let page = await browser.request(`${stack.idp.issuer}/account/delegations`)
  assert.equal(page.status, 200)
  while (page.body.includes('data-testid="revoke"')) {
    page = await browser.submitForm(page, {}, '/revoke')
    assert.equal(page.status, 200)
  }
  return page
}

describe('App D: delegation, exchange with may_act and act, revoke', () => {
  let stack: Stack
  const logs: string[] = []

  before(async () => {
    const { createLogger } = await import('../../../src/log/logger.js')
    const { Writable } = await import('node:stream')
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk))
        done()
      },
    })
    stack = await startStack({
      apps: true,
      logger: createLogger({ level: 'info' }, sink),
    })
  })
  after(async () => {
    await stack.close()
  })

  test('delegationWhenUserAllowsThenUserTokenCarriesMayActAndAppBSeesSubUserActSubAppD', async () => {
    const agent = agentOf(stack, mkdtempSync(join(tmpdir(), 'onbehalf-agent-')))
    const { state, consentPage } = await delegate(agent, { username: 'alice' })
    // The consent screen says who, where, what and until when.
    assert.match(
      consentPage.body.replace(/\s+/g, ' '),
      /Assistant may act for you at App B: todos:read, todos:write, until \d{4}-\d\d-\d\d \d\d:\d\d UTC/,
    )
    // The state file is the user's refresh token, 0600, and holds no access token.
    assert.equal(statSync(agent.state.file).mode & 0o777, 0o600)
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(agent.state.file, 'utf8'))).sort(), [
      'clientId',
      'issuer',
      'refreshToken',
      'since',
      'sub',
      'version',
    ])

    const user = await refreshAs(stack, state.refreshToken)
    assert.equal(user.status, 200)
    const userClaims = decodeJwt(user.body.access_token).payload
    assert.deepEqual(userClaims.may_act, { sub: 'app-d' })
    assert.equal(userClaims.aud, 'app-d')
    assert.equal(userClaims.scope, 'todos:read todos:write')
    // A token for the agent itself: App B refuses it (audience app-d).
    assert.equal((await appBCount(stack, user.body.access_token)).status, 401)

    const exchanged = await exchangeAsAgent(
      stack,
      user.body.access_token,
      await actorTokenOf(stack),
    )
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body))
    const claims = decodeJwt(exchanged.body.access_token).payload
    assert.equal(claims.sub, state.sub)
    assert.equal(claims.aud, 'app-b')
    assert.deepEqual((claims.act as { sub: string }).sub, 'app-d')
    assert.equal(claims.may_act, undefined)

    const added = await agent.addTodo('water the plants')
    assert.equal(added.value.addedBy, 'app-d')
    assert.equal(added.token.sub, state.sub)
    assert.equal((added.token.act as { sub: string }).sub, 'app-d')
    const completed = await agent.completeTodo(added.value.id)
    assert.equal(completed.value.completed, true)
    assert.equal(completed.value.completedBy, 'app-d')
    const count = await appBCount(stack, exchanged.body.access_token)
    assert.equal(count.status, 200)
    assert.equal(count.body.user, state.sub)
    assert.equal(count.body.caller, 'app-d')
    assert.deepEqual(count.body.actorWrites[0], {
      id: added.value.id,
      title: 'water the plants',
      completed: true,
      addedBy: 'app-d',
      addedByName: 'Assistant',
      completedBy: 'app-d',
      completedByName: 'Assistant',
    })
  })

  test('exchangeWhenSubjectTokenOfAgentCarriesNoMayActThenRefusedAndNoTokenMinted', async () => {
    const agent = agentOf(stack, mkdtempSync(join(tmpdir(), 'onbehalf-agent-')))
    const { state } = await delegate(agent, { username: 'bob' })
    // The grant stays, its delegation row goes: tokens issued on it now lack may_act.
    const db = new Database(join(stack.env.DATA_DIR, 'idp.sqlite'))
    try {
      assert.equal(db.prepare('DELETE FROM delegation WHERE sub = ?').run(state.sub).changes, 1)
    } finally {
      db.close()
    }
    const user = await refreshAs(stack, state.refreshToken)
    assert.equal(user.status, 200)
    assert.equal(decodeJwt(user.body.access_token).payload.may_act, undefined)
    const before = logs.length
    const refused = await exchangeAsAgent(stack, user.body.access_token, await actorTokenOf(stack))
    assert.equal(refused.status, 400)
    assert.equal(refused.body.error, 'invalid_request')
    assert.equal(refused.body.access_token, undefined)
    assert.ok(
      logs.slice(before).some((line) => line.includes('carries no may_act')),
      'the audit names the reason',
    )
  })

  test('exchangeWhenAgentPresentsAnotherAppsUserTokenThenRefused', async () => {
    // App A's login token: no may_act, addressed to app-a.
    const login = await loginForTokens(stack, { username: 'demo' })
    const refused = await exchangeAsAgent(stack, login.access_token, await actorTokenOf(stack))
    assert.equal(refused.status, 400)
    assert.equal(refused.body.error, 'invalid_request')
    assert.equal(refused.body.access_token, undefined)
  })

  test('revokeWhenUserRevokesOnAccountPageThenExchangeRefreshIntrospectionAndAppBAllRefuse', async () => {
    const agent = agentOf(stack, mkdtempSync(join(tmpdir(), 'onbehalf-agent-')))
    const { state, browser } = await delegate(agent, { username: 'demo' })
    const user = await refreshAs(stack, state.refreshToken)
    const held = await exchangeAsAgent(stack, user.body.access_token, await actorTokenOf(stack))
    assert.equal(held.status, 200)
    assert.equal((await appBCount(stack, held.body.access_token)).status, 200)
    assert.equal((await introspectAsAppB(stack, held.body.access_token)).active, true)

    const list = await browser.request(`${stack.idp.issuer}/account/delegations`)
    assert.match(list.body.replace(/\s+/g, ' '), /Assistant<\/strong> may act for you at App B/)
    const done = await revokeAll(stack, browser)
    assert.match(done.body, /data-testid="no-delegations"/)

    // What it holds is dead: introspection, App B (introspecting delegated tokens).
    assert.deepEqual(await introspectAsAppB(stack, held.body.access_token), { active: false })
    const atB = await appBCount(stack, held.body.access_token)
    assert.equal(atB.status, 401)
    assert.equal(atB.body.error, 'invalid_token')
    // Its next exchange, with the user token it held, mints nothing.
    const again = await exchangeAsAgent(stack, user.body.access_token, await actorTokenOf(stack))
    assert.equal(again.status, 400)
    assert.equal(again.body.error, 'invalid_request')
    assert.equal(again.body.access_token, undefined)
    // Its refresh fails; the agent says so and forgets the refresh token.
    assert.equal((await refreshAs(stack, state.refreshToken)).body.error, 'invalid_grant')
    await assert.rejects(
      agent.addTodo('after revoke'),
      (error: unknown) => error instanceof AgentError && error.reason === 'delegation_ended',
    )
    assert.equal(agent.state.read(), undefined)
  })

  test('accountPageWhenRevokeLacksCsrfTokenThenRefusedAndDelegationKept', async () => {
    const agent = agentOf(stack, mkdtempSync(join(tmpdir(), 'onbehalf-agent-')))
    const { browser } = await delegate(agent, { username: 'alice' })
    const page = await browser.request(`${stack.idp.issuer}/account/delegations`)
    const id = /data-delegation-id="([^"]+)"/.exec(page.body)?.[1]
    assert.ok(id)
    const forged = await browser.request(`${stack.idp.issuer}/account/delegations/${id}/revoke`, {
      form: { csrf: 'forged' },
    })
    assert.equal(forged.status, 403)
    // Another browser (no IdP session) cannot revoke either.
    const stranger = await new TestBrowser().request(
      `${stack.idp.issuer}/account/delegations/${id}/revoke`,
      { form: { csrf: 'x' } },
    )
    assert.equal(stranger.status, 401)
    assert.equal((await agent.listTodos()).token.sub !== undefined, true)
    await revokeAll(stack, browser)
  })

  test('consentWhenPostLacksCsrfTokenThenRefusedAndNoDelegation', async () => {
    const agent = agentOf(stack, mkdtempSync(join(tmpdir(), 'onbehalf-agent-')))
    const { page, browser, login } = await reachConsent(agent, { username: 'bob' })
    const action = /action="(\/interaction\/[^"]+\/consent)"/.exec(page.body)?.[1]
    assert.ok(action)
    const forged = await browser.request(new URL(action, page.url).href, {
      form: { csrf: 'forged', decision: 'allow' },
    })
    assert.equal(forged.status, 403)
    const poll = await fetch(`${stack.idp.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: basicAuth('app-d', stack.env.APP_D_CLIENT_SECRET),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: login.deviceCode,
      }),
    })
    assert.equal(((await poll.json()) as { error: string }).error, 'authorization_pending')
  })

  test('consentWhenUserDeniesThenAgentLoginFailsWithAccessDenied', async () => {
    const agent = agentOf(stack, mkdtempSync(join(tmpdir(), 'onbehalf-agent-')))
    const { page, browser, login } = await reachConsent(agent, { username: 'alice' })
    await browser.submitForm(page, { decision: 'deny' }, '/consent')
    await assert.rejects(
      agent.completeLogin(login),
      (error: unknown) => error instanceof AgentError && error.error === 'access_denied',
    )
    assert.equal(agent.state.read(), undefined)
  })

  test('agentCliWhenDelegatedThenAddCompleteListAndRunActForTheUser', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'onbehalf-agent-'))
    await delegate(agentOf(stack, stateDir), { username: 'demo' })
    const env = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: stack.env.DATA_DIR,
      IDP_ISSUER: stack.idp.issuer,
      APP_B_URL: stack.env.APP_B_URL,
      APP_D_STATE_DIR: stateDir,
    }
    const cli = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'agent', ...args], {
        env,
        timeout: 60_000,
      })
    const added = await cli('add', '@assistant book the dentist')
    const id = /added #(\d+) \[ \] @assistant book the dentist {2}\(added by app-d\)/.exec(
      added.stdout,
    )?.[1]
    assert.ok(id, added.stdout)
    const status = await cli('status')
    const seen = JSON.parse(status.stdout) as { appBSees: { act: { sub: string } } }
    assert.equal(seen.appBSees.act.sub, 'app-d')
    assert.doesNotMatch(status.stdout + added.stdout, /eyJ/, 'no token is printed')
    const round = await cli('run', '--every', '1s', '--rounds', '2', '--task', 'check the mail')
    assert.match(round.stdout, new RegExp(`completed #${id} \\[x\\] @assistant book the dentist`))
    assert.equal(round.stdout.match(/added #\d+ \[ \] check the mail/g)?.length, 1)
    assert.match(round.stdout, /nothing to do/)
    const listed = await cli('list')
    assert.match(listed.stdout, /check the mail {2}\(added by app-d\)/)
  })
})

describe('App D: a delegation ends at its expiry', () => {
  let stack: Stack
  let policyDir: string

  before(async () => {
    const policy = JSON.parse(readFileSync('config/policy.json', 'utf8'))
    policy.clients['app-d'].delegation.lifetimeSeconds = 3
    policyDir = mkdtempSync(join(tmpdir(), 'onbehalf-delegation-'))
    writeFileSync(join(policyDir, 'policy.json'), JSON.stringify(policy))
    stack = await startStack({ apps: true, env: { POLICY_FILE: join(policyDir, 'policy.json') } })
  })
  after(async () => {
    await stack.close()
    rmSync(policyDir, { recursive: true, force: true })
  })

  test('exchangeWhenDelegationExpiredThenRefreshAndExchangeRefused', async () => {
    const agent = agentOf(stack, mkdtempSync(join(tmpdir(), 'onbehalf-agent-')))
    const { state, browser } = await delegate(agent, { username: 'alice' })
    const user = await refreshAs(stack, state.refreshToken)
    // A loaded machine may already be past the 3 s: then the grant ended, as below.
    if (user.status === 200) {
      await new Promise((resolve) => setTimeout(resolve, 4000))
      const after = await exchangeAsAgent(stack, user.body.access_token, await actorTokenOf(stack))
      assert.equal(after.status, 400)
      assert.equal(after.body.access_token, undefined)
    } else {
      await new Promise((resolve) => setTimeout(resolve, 4000))
    }
    assert.equal((await refreshAs(stack, state.refreshToken)).body.error, 'invalid_grant')
    const page = await browser.request(`${stack.idp.issuer}/account/delegations`)
    assert.match(page.body, /data-testid="no-delegations"/)
  })
})
