/**
 * The authentik-style JWT federation re-issue at the real IdP's /token: the HTTP contract, the
 * claims of the re-issued token, its refusals, the body hand-over to oidc-provider, and the
 * `service-account` subject setting. (The path is a reproduced pattern, not RFC 8693.)
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { basicAuth, decodeJwt, loginForTokens, startStack, type Stack } from '../helpers/stack.js'

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
const BOB = 'd47a9c3e-2f15-4b08-8e6d-5a3c1b9f0e03'

async function post(
  stack: Stack,
  form: Record<string, string>,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${stack.idp.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  })
  const text = await response.text()
  let body: Record<string, any>
  try {
    body = JSON.parse(text)
  } catch {
    body = { raw: text }
  }
  return { status: response.status, headers: response.headers, body }
}

function federation(assertion: string, extra: Record<string, string> = {}) {
  return {
    grant_type: 'client_credentials',
    client_id: 'app-b',
    client_assertion_type: JWT_BEARER,
    client_assertion: assertion,
    scope: 'openid todos:read',
    ...extra,
  }
}

describe('JWT federation re-issue (subject: user)', () => {
  let stack: Stack
  let bobToken: string
  before(async () => {
    stack = await startStack({ apps: true })
    bobToken = (await loginForTokens(stack, { clientId: 'app-a', username: 'bob' })).access_token
  })
  after(() => stack?.close())

  test('a user token for App A, no secret → an App B token for the same user, aud = azp = client_id = app-b', async () => {
    const res = await post(stack, federation(bobToken))
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('cache-control'), 'no-store')
    assert.deepEqual(Object.keys(res.body).sort(), [
      'access_token',
      'expires_in',
      'scope',
      'token_type',
    ])
    assert.equal(res.body.token_type, 'Bearer')
    assert.equal(res.body.scope, 'todos:read', 'openid silently cut, as authentik does')
    const { header, payload } = decodeJwt(res.body.access_token)
    assert.equal(header.typ, 'at+jwt')
    assert.equal(header.alg, 'ES256')
    assert.equal(payload.iss, stack.idp.issuer)
    assert.equal(payload.sub, BOB)
    assert.equal(payload.aud, 'app-b')
    assert.equal(payload.azp, 'app-b')
    assert.equal(payload.client_id, 'app-b')
    assert.equal(payload.act, undefined, 'nothing records App A')

    // App B accepts it (app-b is an allowed caller for exactly this path) and serves bob.
    const api = await fetch(`${stack.env.APP_B_URL}/api/todos/count`, {
      headers: { authorization: `Bearer ${res.body.access_token}` },
    })
    const body = (await api.json()) as Record<string, unknown>
    assert.equal(api.status, 200)
    assert.equal(body.user, BOB)
    assert.equal(body.caller, 'app-b')
    assert.equal(body.decidedBy, 'token')
  })

  test('unknown client_id → 401 invalid_client', async () => {
    const res = await post(stack, federation(bobToken, { client_id: 'ghost' }))
    assert.equal(res.status, 401)
    assert.equal(res.body.error, 'invalid_client')
  })

  test('a client whose federation is off → unauthorized_client', async () => {
    const res = await post(stack, federation(bobToken, { client_id: 'app-a' }))
    assert.equal(res.status, 400)
    assert.equal(res.body.error, 'unauthorized_client')
  })

  test('an assertion issued to a client the target does not trust → invalid_grant', async () => {
    const appBLogin = (await loginForTokens(stack, { clientId: 'app-b', username: 'bob' }))
      .access_token
    const res = await post(stack, federation(appBLogin))
    assert.equal(res.status, 400)
    assert.equal(res.body.error, 'invalid_grant')
    assert.equal(
      res.body.error_description,
      'client_assertion is invalid or not trusted for this client',
    )
  })

  test('a tampered assertion → invalid_grant with the same description (no oracle)', async () => {
    const [h, p, s] = bobToken.split('.')
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString())
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone' })).toString('base64url')}.${s}`
    const res = await post(stack, federation(tampered))
    assert.equal(res.status, 400)
    assert.equal(res.body.error, 'invalid_grant')
    assert.equal(
      res.body.error_description,
      'client_assertion is invalid or not trusted for this client',
    )
  })

  test('a revoked assertion (no longer live) → invalid_grant', async () => {
    const token = (await loginForTokens(stack, { clientId: 'app-a', username: 'bob' })).access_token
    const revoke = await post(
      stack,
      { token },
      { authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET) },
    ).then(() =>
      fetch(`${stack.idp.issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }),
      }),
    )
    assert.equal(revoke.status, 200)
    const res = await post(stack, federation(token))
    assert.equal(res.status, 400)
    assert.equal(res.body.error, 'invalid_grant')
  })

  test('a body beyond the limit is refused before it is read, never re-issued', async () => {
    const res = await post(stack, federation('x'.repeat(40 * 1024)))
    // 413 from the federation buffer, or 400 from the token endpoint's declared-size limit.
    assert.ok(res.status === 413 || res.status === 400, String(res.status))
    assert.equal(res.body.error, 'invalid_request')
    assert.match(res.body.error_description, /too large/)
  })

  test('with an Authorization header the request is oidc-provider’s, never re-issued', async () => {
    const res = await post(stack, federation(bobToken), {
      authorization: basicAuth('app-b', stack.env.APP_B_CLIENT_SECRET),
    })
    assert.notEqual(res.status, 200)
    assert.equal(res.body.access_token, undefined)
  })

  test('an unauthenticated-header request that is not federation reaches oidc-provider with its body', async () => {
    const res = await post(stack, {
      grant_type: 'client_credentials',
      client_id: 'app-a',
      client_secret: stack.env.APP_A_CLIENT_SECRET,
      scope: 'todos:read',
    })
    // oidc-provider read the buffered body (client_id, secret, grant) and answered itself.
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(decodeJwt(res.body.access_token).payload.sub, 'app-a')
  })
})

describe('JWT federation re-issue (subject: service-account)', () => {
  let stack: Stack
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onbehalf-policy-'))
    const policy = JSON.parse(readFileSync('config/policy.json', 'utf8'))
    policy.clients['app-b'].federation.subject = 'service-account'
    const file = join(dir, 'policy.json')
    writeFileSync(file, JSON.stringify(policy))
    stack = await startStack({ apps: true, env: { POLICY_FILE: file } })
  })
  after(() => stack?.close())

  test('the new token’s sub is the generated account <trusted client>-<user sub>', async () => {
    const bob = (await loginForTokens(stack, { clientId: 'app-a', username: 'bob' })).access_token
    const res = await post(stack, federation(bob))
    assert.equal(res.status, 200)
    assert.equal(decodeJwt(res.body.access_token).payload.sub, `app-a-${BOB}`)
    // App B serves that account's (empty) list: this is the case the header workaround exists for.
    const api = await fetch(`${stack.env.APP_B_URL}/api/todos/count`, {
      headers: { authorization: `Bearer ${res.body.access_token}` },
    })
    assert.equal(((await api.json()) as { user: string }).user, `app-a-${BOB}`)
  })
})
