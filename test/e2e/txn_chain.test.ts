/**
 * The chain's second way, over the real stack (IdP, STS from deploy/sts/embedded.json, App B,
 * App C, real logins): App B, holding the token App A exchanged for it, asks the STS's Txn-Token
 * Service for a transaction token of the trust domain and calls App C with it in the `Txn-Token`
 * header (draft-ietf-oauth-transaction-tokens-10). App C records the `txn` with the activity, so
 * one user action is traceable across services by its `txn`; a txn token works nowhere a bearer
 * token is expected, and App C's txn route takes nothing but a txn token.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createAppBToAppCTxnLink } from '../../src/apps/app-b/app.js'
import { createTxnTokenClient } from '../../src/client/index.js'
import { TestBrowser } from '../helpers/browser.js'
import {
  decodeJwt,
  exchangeToken,
  loginForTokens,
  startStack,
  type Stack,
} from '../helpers/stack.js'

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const DEMO_SUB = '3f9d2b8e-6a41-4c5e-9f2a-7d1e0c4b8a01'

describe('the chain App A → App B → App C with a txn token', () => {
  let stack: Stack
  let appBToken: string
  let appBLoginToken: string

  before(async () => {
    stack = await startStack({ apps: true })
    const login = await loginForTokens(stack, {
      scope: 'openid profile email todos:read activity:read',
    })
    const exchanged = await exchangeToken(stack, {
      subject_token: login.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
      scope: 'todos:read activity:read',
    })
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body))
    appBToken = exchanged.body.access_token
    appBLoginToken = (
      await loginForTokens(stack, {
        clientId: 'app-b',
        scope: 'openid profile email activity:write',
      })
    ).access_token
  })
  after(() => stack?.close())

  it('txnChain when App B records a change with a txn token then App C stores the txn and App A reads it back through App B', async () => {
    const link = createAppBToAppCTxnLink(stack.env)
    const recorded = await link.record(appBLoginToken, { action: 'todo.added', detail: 'Milk' })
    assert.ok(recorded.ok, JSON.stringify(!recorded.ok && recorded.failure))
    const txn = recorded.value.entry.txn
    assert.match(txn ?? '', /^[0-9a-f-]{36}$/)
    assert.equal(recorded.value.seen.txn, txn)
    assert.equal(recorded.value.seen.aud, stack.env.TXN_TRUST_DOMAIN)
    assert.equal(recorded.value.seen.req_wl, 'app-b')
    assert.equal(recorded.value.user, DEMO_SUB)
    assert.deepEqual(recorded.value.seen.tctx, { action: 'todo.added' })
    // The txn token's claims App B saw: typ-level facts only, never the access token itself.
    assert.equal(recorded.exchanged?.claims?.txn, txn)
    assert.equal(recorded.exchanged?.claims?.client_id, undefined)

    // App A asks App B for the activity, the txn-token way.
    const response = await fetch(`${stack.env.APP_B_URL}/api/activity?via=txn-token`, {
      headers: { authorization: `Bearer ${appBToken}` },
    })
    const body = (await response.json()) as Record<string, any>
    assert.equal(response.status, 200, JSON.stringify(body))
    assert.equal(body.via, 'txn-token')
    assert.equal(body.seen.aud, stack.env.TXN_TRUST_DOMAIN)
    assert.equal(body.seen.scope, 'activity:read')
    assert.equal(body.seen.sub, DEMO_SUB)
    assert.notEqual(body.seen.txn, txn, 'reading is its own transaction')
    assert.ok(
      body.entries.some((entry: { txn?: string }) => entry.txn === txn),
      'the recorded txn is traceable in App C',
    )

    // The exchange way still works beside it; its entries carry no txn.
    const viaExchange = await fetch(`${stack.env.APP_B_URL}/api/activity`, {
      headers: { authorization: `Bearer ${appBToken}` },
    })
    const exchangeBody = (await viaExchange.json()) as Record<string, any>
    assert.equal(viaExchange.status, 200, JSON.stringify(exchangeBody))
    assert.equal(exchangeBody.via, 'exchange')
    assert.equal(exchangeBody.seen.txn, undefined)
  })

  it("txnChain when the user opens App A then the Delegation chain card shows the txn-token way with App C's verified claims", async () => {
    const browser = new TestBrowser()
    let page = await browser.navigate(`${stack.env.APP_A_URL}/auth/login`)
    page = await browser.submitForm(page, { username: 'demo', password: 'changeme' }, '/login')
    assert.equal(page.status, 200)
    const dashboard = await browser.navigate(`${stack.env.APP_A_URL}/`)
    assert.match(dashboard.body, /data-testid="chain-txn-variant"\s+data-ok="true"/)
    const text = (id: string) =>
      new RegExp(`data-testid="${id}">([^<]*)<`).exec(dashboard.body)?.[1]?.trim()
    assert.equal(text('chain-txn-aud'), stack.env.TXN_TRUST_DOMAIN)
    assert.equal(text('chain-txn-req-wl'), 'app-b')
    assert.equal(text('chain-txn-sub'), DEMO_SUB)
    assert.match(text('chain-txn-txn') ?? '', /^[0-9a-f-]{36}$/)
    // The first way is still drawn beside it: App C's hop with act = app-b ← app-a.
    assert.match(dashboard.body, /data-hop="app-c"\s+data-ok="true"/)
  })

  it("txnChain when App C's txn route gets a bearer token instead then 401 and nothing is recorded", async () => {
    const appCToken = await exchangeToken(
      stack,
      {
        subject_token: appBLoginToken,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-c',
        scope: 'activity:write',
      },
      { clientId: 'app-b' },
    )
    assert.equal(appCToken.status, 200, JSON.stringify(appCToken.body))
    const response = await fetch(`${stack.env.APP_C_URL}/api/txn/activity`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${appCToken.body.access_token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ action: 'todo.added', detail: 'sneaked in' }),
    })
    assert.equal(response.status, 401)
    assert.equal(((await response.json()) as Record<string, any>).error, 'invalid_token')
    const read = await createAppBToAppCTxnLink(stack.env).read(appBToken)
    assert.ok(read.ok)
    assert.ok(!read.value.entries.some((entry) => entry.detail === 'sneaked in'))
  })

  it("txnChain when a txn token is sent to App C's bearer route then 401 invalid_token", async () => {
    const txnTokens = createTxnTokenClient({
      tokenEndpoint: `${stack.env.STS_ISSUER}/token`,
      clientId: 'app-b',
      clientSecret: stack.env.APP_B_CLIENT_SECRET,
      trustDomain: stack.env.TXN_TRUST_DOMAIN,
    })
    const { txnToken } = await txnTokens.request({
      subjectToken: appBLoginToken,
      scope: 'activity:write',
    })
    assert.equal(decodeJwt(txnToken).header.typ, 'txntoken+jwt')
    const response = await fetch(`${stack.env.APP_C_URL}/api/activity`, {
      method: 'POST',
      headers: { authorization: `Bearer ${txnToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'todo.added', detail: 'as bearer' }),
    })
    assert.equal(response.status, 401)
  })

  it('txnChain when App A asks the Txn-Token Service itself then unauthorized_client and no token', async () => {
    const response = await exchangeToken(
      stack,
      {
        subject_token: appBToken,
        subject_token_type: ACCESS_TOKEN,
        requested_token_type: 'urn:ietf:params:oauth:token-type:txn_token',
        audience: stack.env.TXN_TRUST_DOMAIN,
        scope: 'activity:read',
      },
      { clientId: 'app-a', tokenEndpoint: `${stack.env.STS_ISSUER}/token` },
    )
    assert.equal(response.status, 400)
    assert.equal(response.body.error, 'unauthorized_client')
    assert.equal(response.body.access_token, undefined)
  })
})
