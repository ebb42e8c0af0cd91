/**
 * client_credentials for App A's service account (the "M2M + header" pattern), policy-driven, and
 * App B's identity policy on the live stack: `trusted-header` only for that service's own token.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { parsePolicy } from '../../src/config/policy_file.js'
import { createLogger } from '../../src/log/logger.js'
import {
  basicAuth,
  decodeJwt,
  exchangeToken,
  loginForTokens,
  startStack,
  type Stack,
} from '../helpers/stack.js'

const ALICE = '8c1f4e2a-0b7d-4e93-a5c6-2f8b9d0e1a02'
const BOB = 'd47a9c3e-2f15-4b08-8e6d-5a3c1b9f0e03'

async function clientCredentials(
  stack: Stack,
  clientId: string,
  secret: string,
  extra: Record<string, string> = {},
) {
  const response = await fetch(`${stack.idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: basicAuth(clientId, secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'todos:read', ...extra }),
  })
  return { status: response.status, body: (await response.json()) as Record<string, any> }
}

async function count(stack: Stack, token: string, userHeader?: string) {
  const response = await fetch(`${stack.env.APP_B_URL}/api/todos/count`, {
    headers: {
      authorization: `Bearer ${token}`,
      ...(userHeader ? { 'x-user-sub': userHeader } : {}),
    },
  })
  return { status: response.status, body: (await response.json()) as Record<string, any> }
}

describe('client_credentials (M2M) and App B’s identity policy', () => {
  let stack: Stack
  before(async () => {
    stack = await startStack({ apps: true })
  })
  after(() => stack?.close())

  test('App A’s service token: sub = client_id = app-a, aud = app-b, at+jwt, scope within its policy', async () => {
    const res = await clientCredentials(stack, 'app-a', stack.env.APP_A_CLIENT_SECRET, {
      scope: 'todos:read todos:write',
    })
    assert.equal(res.status, 200)
    assert.equal(res.body.refresh_token, undefined)
    const { header, payload } = decodeJwt(res.body.access_token)
    assert.equal(header.typ, 'at+jwt')
    assert.equal(payload.sub, 'app-a')
    assert.equal(payload.client_id, 'app-a')
    assert.equal(payload.aud, 'app-b')
    assert.equal(payload.scope, 'todos:read', 'todos:write is beyond clientCredentials.scopes')
    assert.equal(payload.act, undefined)
  })

  test('a resource the policy does not list → invalid_target', async () => {
    const res = await clientCredentials(stack, 'app-a', stack.env.APP_A_CLIENT_SECRET, {
      resource: stack.env.APP_A_URL,
    })
    assert.equal(res.status, 400)
    assert.equal(res.body.error, 'invalid_target')
  })

  test('a client without a clientCredentials block may not use the grant', async () => {
    const res = await clientCredentials(stack, 'app-b', stack.env.APP_B_CLIENT_SECRET)
    // oidc-provider's own answer for a grant type the client is not registered for.
    assert.equal(res.status, 400)
    assert.equal(res.body.error, 'invalid_request')
    assert.equal(res.body.error_description, 'requested grant type is not allowed for this client')
  })

  test('App B: the service token + X-User-Sub → the header decides (trusted-header)', async () => {
    const token = (await clientCredentials(stack, 'app-a', stack.env.APP_A_CLIENT_SECRET)).body
      .access_token
    const withHeader = await count(stack, token, ALICE)
    assert.equal(withHeader.status, 200)
    assert.equal(withHeader.body.user, ALICE)
    assert.equal(withHeader.body.decidedBy, 'trusted-header')
    const without = await count(stack, token)
    assert.equal(without.body.user, 'app-a')
    assert.equal(without.body.decidedBy, 'token')
  })

  test('App B: an RFC 8693 token + X-User-Sub → the token decides, the header is reported ignored', async () => {
    const bob = (await loginForTokens(stack, { clientId: 'app-a', username: 'bob' })).access_token
    const exchanged = await exchangeToken(stack, {
      subject_token: bob,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      audience: 'app-b',
      scope: 'todos:read',
    })
    assert.equal(exchanged.status, 200)
    const res = await count(stack, exchanged.body.access_token, ALICE)
    assert.equal(res.status, 200)
    assert.equal(res.body.user, BOB)
    assert.equal(res.body.decidedBy, 'token')
    assert.match(res.body.headerIgnored, /X-User-Sub ignored: the token is delegated \(act app-a\)/)
  })
})

describe('App B with the header workaround switched off (APP_B_TRUSTED_HEADER_CALLERS=none)', () => {
  let stack: Stack
  before(async () => {
    stack = await startStack({ apps: true, env: { APP_B_TRUSTED_HEADER_CALLERS: 'none' } })
  })
  after(() => stack?.close())

  test('the service token’s header is ignored: App B serves the service account itself', async () => {
    const token = (await clientCredentials(stack, 'app-a', stack.env.APP_A_CLIENT_SECRET)).body
      .access_token
    const res = await count(stack, token, ALICE)
    assert.equal(res.body.user, 'app-a')
    assert.equal(res.body.decidedBy, 'token')
    assert.match(res.body.headerIgnored, /not a trusted-header caller/)
  })
})

describe('client_credentials is decided by the engine, audited once per request', () => {
  let stack: Stack
  const lines: string[] = []
  const auditEvents = () =>
    lines
      .filter((line) => line.includes('"audit"'))
      .map((line) => JSON.parse(line).audit)
      .filter((event) => event.event === 'client_credentials')
  before(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString())
        done()
      },
    })
    stack = await startStack({
      logger: createLogger({ level: 'info' }, sink),
      idp: (env) => {
        const json = JSON.parse(readFileSync('config/policy.json', 'utf8'))
        // app-b: a service token toward two audiences, so none is the default.
        json.clients['app-b'].clientCredentials = {
          enabled: true,
          allowedAudiences: ['app-a', 'app-c'],
          scopes: ['todos:read', 'activity:read'],
        }
        return { policy: parsePolicy(json, env, env.IDP_ISSUER, 'client_credentials variant') }
      },
    })
  })
  after(() => stack?.close())

  test('an issued service token and a refused one: one audit event each, never a token value', async () => {
    const issued = await clientCredentials(stack, 'app-a', stack.env.APP_A_CLIENT_SECRET)
    assert.equal(issued.status, 200)
    const refused = await clientCredentials(stack, 'app-a', stack.env.APP_A_CLIENT_SECRET, {
      resource: stack.env.APP_A_URL,
    })
    assert.equal(refused.status, 400)
    assert.equal(refused.body.error, 'invalid_target')
    assert.deepEqual(auditEvents(), [
      {
        event: 'client_credentials',
        outcome: 'issued',
        clientId: 'app-a',
        audience: 'app-b',
        scopes: ['todos:read'],
      },
      {
        event: 'client_credentials',
        outcome: 'refused',
        clientId: 'app-a',
        error: 'invalid_target',
        reason: 'target app-a is not allowed for the client',
      },
    ])
    const logged = lines.join('\n')
    for (const part of issued.body.access_token.split('.')) assert.ok(!logged.includes(part))
  })

  test('no resource named and no single default audience → invalid_target, no token', async () => {
    const before = auditEvents().length
    const res = await clientCredentials(stack, 'app-b', stack.env.APP_B_CLIENT_SECRET)
    assert.equal(res.status, 400)
    assert.equal(res.body.error, 'invalid_target')
    assert.equal(res.body.access_token, undefined)
    assert.deepEqual(auditEvents().slice(before), [
      {
        event: 'client_credentials',
        outcome: 'refused',
        clientId: 'app-b',
        error: 'invalid_target',
        reason: 'no target requested and the client has no single default',
      },
    ])
  })

  test('two resources → invalid_target, decided before any token', async () => {
    const before = auditEvents().length
    const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'todos:read' })
    body.append('resource', stack.env.APP_A_URL)
    body.append('resource', stack.env.APP_C_URL)
    const response = await fetch(`${stack.idp.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: basicAuth('app-b', stack.env.APP_B_CLIENT_SECRET),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body,
    })
    assert.equal(response.status, 400)
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_target')
    assert.equal(auditEvents().length - before, 1)
  })
})
