/**
 * The chain A → B → C through the real login form, the real IdP and the shipped policy: a todo
 * change in App B's UI is recorded in App C with actor chain ['app-b']; App A's dashboard asks App B
 * for the activity, App B exchanges again, and App C receives `act = { sub: app-b, act: { sub:
 * app-a } }` (RFC 8693 §4.1) — drawn as three hops on App A's "Delegation chain" card. App A calling
 * App C directly is refused, and a broken App C shows on the card without breaking anything else.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { TestBrowser, type BrowserResponse } from '../helpers/browser.js'
import {
  decodeJwt,
  exchangeToken,
  loginForTokens,
  startStack,
  type Stack,
} from '../helpers/stack.js'

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const DEMO_SUB = '3f9d2b8e-6a41-4c5e-9f2a-7d1e0c4b8a01'

/** The `<li data-testid="chain-hop" …>` blocks of the chain card, by hop. */
function chainHops(html: string): Map<string, { ok: string; body: string }> {
  const hops = new Map<string, { ok: string; body: string }>()
  for (const match of html.matchAll(
    /data-testid="chain-hop"\s+data-hop="([^"]+)"\s+data-ok="([^"]+)"\s*>([\s\S]*?)<\/li>\s*<li class="chain-node"/g,
  )) {
    hops.set(match[1]!, { ok: match[2]!, body: match[3]! })
  }
  return hops
}

function actSubs(hopBody: string): string[] {
  return [...hopBody.matchAll(/data-testid="act-level" data-act-sub="([^"]+)"/g)].map((m) => m[1]!)
}

function testIdText(html: string, testId: string): string | undefined {
  return new RegExp(`data-testid="${testId}">([^<]*)<`).exec(html)?.[1]?.trim()
}

describe('the chain App A → App B → App C', () => {
  let stack: Stack
  const browser = new TestBrowser()

  before(async () => {
    stack = await startStack({ apps: true })
    let page = await browser.navigate(`${stack.env.APP_A_URL}/auth/login`)
    page = await browser.submitForm(page, { username: 'demo', password: 'changeme' }, '/login')
    assert.equal(page.status, 200)
    assert.match(page.url, new RegExp(`^${stack.env.APP_A_URL}`))
  })
  after(() => stack?.close())

  async function appBPage(): Promise<BrowserResponse> {
    // Single sign-on: the IdP session signs App B in without a second password prompt.
    const page = await browser.navigate(`${stack.env.APP_B_URL}/auth/login`)
    assert.match(page.body, /data-testid="new-todo-title"/, 'signed in to App B')
    return page
  }

  it("a todo change in App B's UI is recorded in App C with actor chain ['app-b']", async () => {
    let page = await appBPage()
    page = await browser.submitForm(page, { title: 'Water the plants' }, '/todos')
    assert.match(page.body, /Water the plants/)
    assert.doesNotMatch(page.body, /data-testid="activity-notice"/)
    page = await browser.submitForm(page, {}, '/toggle')
    assert.doesNotMatch(page.body, /data-testid="activity-notice"/)

    const dashboard = await browser.navigate(`${stack.env.APP_A_URL}/`)
    const entries = [
      ...dashboard.body.matchAll(
        /data-testid="activity-entry"\s+data-action="([^"]+)"\s+data-actor-chain="([^"]*)"/g,
      ),
    ].map((m) => ({ action: m[1], chain: m[2] }))
    assert.deepEqual(entries, [
      { action: 'todo.completed', chain: 'app-b' },
      { action: 'todo.added', chain: 'app-b' },
    ])
  })

  it('dashboardWhenAppAExchangesThenTheTodosCardTokenIsDpopBoundAndAppBServesIt', async () => {
    const dashboard = await browser.navigate(`${stack.env.APP_A_URL}/`)
    const binding = /data-testid="dpop-binding">([\s\S]*?)<\/dd>/.exec(dashboard.body)?.[1] ?? ''
    assert.match(binding, /DPoP-bound/)
    assert.match(binding, /<code>[A-Za-z0-9_-]{43}<\/code>/, 'the key thumbprint is shown')
    assert.doesNotMatch(dashboard.body, /data-testid="app-b-error"/)
    assert.match(dashboard.body, /data-testid="todo-count"/, 'App B accepted the bound token')
  })

  it('App C receives act = {sub: app-b, act: {sub: app-a}} and App A draws the three hops', async () => {
    const dashboard = await browser.navigate(`${stack.env.APP_A_URL}/`)
    assert.match(dashboard.body, /data-testid="chain-card"/)
    assert.doesNotMatch(dashboard.body, /data-testid="chain-error"/)
    const hops = chainHops(dashboard.body)
    assert.deepEqual([...hops.keys()], ['app-a', 'app-b', 'app-c'])
    for (const [id, hop] of hops) assert.equal(hop.ok, 'true', `hop ${id}`)
    assert.equal(testIdText(hops.get('app-a')!.body, 'chain-hop-aud'), 'app-a')
    assert.deepEqual(actSubs(hops.get('app-a')!.body), [])
    assert.equal(testIdText(hops.get('app-b')!.body, 'chain-hop-aud'), 'app-b')
    assert.equal(testIdText(hops.get('app-b')!.body, 'chain-hop-azp'), 'app-a')
    assert.deepEqual(actSubs(hops.get('app-b')!.body), ['app-a'])
    assert.equal(testIdText(hops.get('app-c')!.body, 'chain-hop-aud'), 'app-c')
    assert.equal(testIdText(hops.get('app-c')!.body, 'chain-hop-azp'), 'app-b')
    assert.equal(testIdText(hops.get('app-c')!.body, 'chain-hop-sub'), DEMO_SUB)
    assert.deepEqual(actSubs(hops.get('app-c')!.body), ['app-b', 'app-a'])
    // The rest of the dashboard is there too.
    assert.match(dashboard.body, /data-testid="todo-count"/)
    assert.match(dashboard.body, /Four ways to reach App B/)
  })

  it("App B's /api/activity extends the chain: the claims App C verified", async () => {
    const login = await loginForTokens(stack, {
      clientId: 'app-a',
      scope: 'openid profile email todos:read activity:read',
    })
    const exchanged = await exchangeToken(stack, {
      subject_token: login.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
      scope: 'todos:read activity:read',
    })
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body))
    const response = await fetch(`${stack.env.APP_B_URL}/api/activity`, {
      headers: { authorization: `Bearer ${exchanged.body.access_token}` },
    })
    assert.equal(response.status, 200)
    const body = (await response.json()) as Record<string, any>
    const issuer = stack.idp.issuer
    assert.equal(body.seen.sub, DEMO_SUB)
    assert.equal(body.seen.aud, 'app-c')
    assert.equal(body.seen.azp, 'app-b')
    assert.deepEqual(body.seen.act, {
      sub: 'app-b',
      iss: issuer,
      act: { sub: 'app-a', iss: issuer },
    })
    assert.equal(body.seen.scope, 'activity:read')
    assert.equal(body.appC.caller, 'app-b')
    assert.deepEqual(body.appC.actorChain, ['app-b', 'app-a'])
    assert.ok(Array.isArray(body.entries))

    // Without activity:read the middle hop refuses before any exchange.
    const narrow = await exchangeToken(stack, {
      subject_token: login.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
      scope: 'todos:read',
    })
    const refused = await fetch(`${stack.env.APP_B_URL}/api/activity`, {
      headers: { authorization: `Bearer ${narrow.body.access_token}` },
    })
    assert.equal(refused.status, 403)
    assert.equal(((await refused.json()) as { error: string }).error, 'insufficient_scope')
  })

  it('App A calling App C directly: no token for it (invalid_target)', async () => {
    const login = await loginForTokens(stack, {
      clientId: 'app-a',
      scope: 'openid todos:read activity:read',
    })
    const response = await exchangeToken(stack, {
      subject_token: login.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-c',
      scope: 'activity:read',
    })
    assert.equal(response.status, 400)
    assert.equal(response.body.error, 'invalid_target')
  })

  it('App C down: the todo change stands with a notice, the card shows the failing hop', async () => {
    await stack.appC!.close()
    let page = await appBPage()
    page = await browser.submitForm(page, { title: 'Renew the passport' }, '/todos')
    assert.match(page.body, /Renew the passport/)
    assert.match(page.body, /data-testid="activity-notice"/)
    const again = await browser.navigate(`${stack.env.APP_B_URL}/`)
    assert.doesNotMatch(again.body, /data-testid="activity-notice"/, 'the notice is shown once')

    const dashboard = await browser.navigate(`${stack.env.APP_A_URL}/`)
    const hops = chainHops(dashboard.body)
    assert.equal(hops.get('app-a')?.ok, 'true')
    assert.equal(hops.get('app-b')?.ok, 'true')
    assert.equal(hops.get('app-c')?.ok, 'false')
    assert.match(hops.get('app-c')!.body, /data-testid="chain-error"/)
    assert.equal(testIdText(dashboard.body, 'todo-count'), '2')
  })
})

describe('App A calling App C directly, with a policy that would let it obtain a token', () => {
  let stack: Stack
  let dir: string

  before(async () => {
    const policy = JSON.parse(readFileSync('config/policy.json', 'utf8'))
    policy.clients['app-a'].tokenExchange.allowedAudiences.push('app-c')
    dir = mkdtempSync(join(tmpdir(), 'onbehalf-chain-policy-'))
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy))
    stack = await startStack({ apps: true, env: { POLICY_FILE: join(dir, 'policy.json') } })
  })
  after(async () => {
    await stack?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('App C refuses a token whose outermost actor is app-a with 403', async () => {
    const login = await loginForTokens(stack, {
      clientId: 'app-a',
      scope: 'openid todos:read activity:read',
    })
    const exchanged = await exchangeToken(stack, {
      subject_token: login.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-c',
      scope: 'activity:read',
    })
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body))
    const claims = decodeJwt(exchanged.body.access_token).payload
    assert.equal(claims.aud, 'app-c')
    assert.equal((claims.act as { sub: string }).sub, 'app-a')
    const response = await fetch(`${stack.env.APP_C_URL}/api/activity`, {
      headers: { authorization: `Bearer ${exchanged.body.access_token}` },
    })
    assert.equal(response.status, 403)
    assert.match(String(response.headers.get('www-authenticate')), /^Bearer /)
  })
})
