import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import {
  basicAuthorization,
  createTokenExchangeClient,
  type ExchangedTokenCache,
  TokenExchangeError,
} from '../../src/client/index.js'
import { startFakeOp, type FakeOp } from '../web/helpers/fake_op.js'

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'

async function setup(
  t: TestContext,
  options: { now?: () => number; cache?: ExchangedTokenCache; timeoutMs?: number } = {},
) {
  const op = await startFakeOp(options.now ? { now: options.now } : {})
  t.after(() => op.close())
  const client = createTokenExchangeClient({
    tokenEndpoint: async () => `${op.url}/token`,
    clientId: op.clientId,
    clientSecret: op.clientSecret,
    ...options,
  })
  return { op, client }
}

async function subjectToken(
  op: FakeOp,
  sub = 'user-alice',
  now = Date.now() / 1000,
): Promise<string> {
  const iat = Math.floor(now)
  return op.signAccessToken({
    sub,
    aud: 'app-a',
    client_id: 'app-a',
    scope: 'openid todos:read',
    exp: iat + 3600,
    jti: sub,
  })
}

function exchangeRequests(op: FakeOp) {
  return op.requests.filter((r) => r.grantType === GRANT)
}

test('exchange when the IdP issues a token then the RFC 8693 request is well formed and the result decoded', async (t) => {
  const now = 1_800_000_000
  const { op, client } = await setup(t, { now: () => now })
  const token = await subjectToken(op, 'user-alice', now)
  const result = await client.exchange({
    subjectToken: token,
    audience: 'app-b',
    scope: 'todos:read',
  })

  const [request] = exchangeRequests(op)
  assert.deepEqual(
    { ...request!.body },
    {
      grant_type: GRANT,
      subject_token: token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
      scope: 'todos:read',
    },
  )
  assert.equal(request!.authorization, basicAuthorization(op.clientId, op.clientSecret))

  assert.equal(result.issuedTokenType, ACCESS_TOKEN)
  assert.equal(result.tokenType, 'Bearer')
  assert.equal(result.scope, 'todos:read')
  assert.equal(result.expiresAt, now + 300)
  assert.equal(result.fromCache, false)
  assert.equal(typeof result.durationMs, 'number')
  assert.ok(result.durationMs >= 0)
  assert.equal(result.claims?.sub, 'user-alice')
  assert.equal(result.claims?.aud, 'app-b')
  assert.equal(result.claims?.azp, 'app-a')
  assert.deepEqual(result.claims?.act, { sub: 'app-a', iss: op.url })
  assert.ok(result.accessToken.split('.').length === 3)
})

test('basicAuthorization form-urlencodes client id and secret before base64 (RFC 6749 §2.3.1)', () => {
  const header = basicAuthorization('app a:1', 'p@ss w/rd+&=%é')
  const decoded = Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8')
  assert.equal(decoded, 'app+a%3A1:p%40ss+w%2Frd%2B%26%3D%25%C3%A9')
  assert.equal(decoded.split(':').length, 2, 'a colon in the id cannot split the credentials')
})

test('exchange when the IdP answers an OAuth error then TokenExchangeError carries error, description and status', async (t) => {
  const { op, client } = await setup(t)
  const token = await subjectToken(op)
  op.exchangeBehaviour = {
    kind: 'error',
    status: 400,
    error: 'invalid_target',
    description: 'the audience is not allowed',
  }
  const failure = await client
    .exchange({ subjectToken: token, audience: 'app-z' })
    .catch((e: unknown) => e)
  assert.ok(failure instanceof TokenExchangeError)
  assert.equal(failure.error, 'invalid_target')
  assert.equal(failure.description, 'the audience is not allowed')
  assert.equal(failure.statusCode, 400)
  assert.ok(!failure.message.includes(token), 'no token in the message')

  op.exchangeBehaviour = { kind: 'error', status: 400, error: 'invalid_request' }
  const noDescription = await client
    .exchange({ subjectToken: token, audience: 'app-b' })
    .catch((e: unknown) => e)
  assert.ok(noDescription instanceof TokenExchangeError)
  assert.equal(noDescription.error, 'invalid_request')
  assert.equal(noDescription.description, undefined)
})

test('exchange when the client secret is wrong then invalid_client 401', async (t) => {
  const op = await startFakeOp()
  t.after(() => op.close())
  const client = createTokenExchangeClient({
    tokenEndpoint: `${op.url}/token`,
    clientId: 'app-a',
    clientSecret: 'wrong',
  })
  const failure = await client
    .exchange({ subjectToken: await subjectToken(op), audience: 'app-b' })
    .catch((e: unknown) => e)
  assert.ok(failure instanceof TokenExchangeError)
  assert.equal(failure.error, 'invalid_client')
  assert.equal(failure.statusCode, 401)
})

test('exchange when the answer is not an OAuth response then invalid_response', async (t) => {
  const { op, client } = await setup(t)
  const token = await subjectToken(op)
  const cases = [
    { kind: 'raw', status: 502, body: '<html>Bad gateway</html>', contentType: 'text/html' },
    { kind: 'raw', status: 200, body: '{"access_token":"x"}', contentType: 'application/json' },
    {
      kind: 'raw',
      status: 200,
      body: JSON.stringify({
        access_token: 'x',
        issued_token_type: ACCESS_TOKEN,
        token_type: 'N_A',
        expires_in: 60,
      }),
      contentType: 'application/json',
    },
    {
      kind: 'raw',
      status: 200,
      body: JSON.stringify({
        access_token: 'x',
        issued_token_type: 'urn:ietf:params:oauth:token-type:saml2',
        token_type: 'Bearer',
      }),
      contentType: 'application/json',
    },
  ] as const
  for (const behaviour of cases) {
    op.exchangeBehaviour = behaviour
    const failure = await client
      .exchange({ subjectToken: token, audience: 'app-b' })
      .catch((e: unknown) => e)
    assert.ok(failure instanceof TokenExchangeError, behaviour.body)
    assert.equal(failure.error, 'invalid_response', behaviour.body)
    assert.equal(failure.statusCode, behaviour.status)
  }
})

test('exchange when the token endpoint is down or silent then network_error', async (t) => {
  const dead = await startFakeOp()
  await dead.close()
  const down = createTokenExchangeClient({
    tokenEndpoint: `${dead.url}/token`,
    clientId: 'a',
    clientSecret: 's',
  })
  const refused = await down
    .exchange({ subjectToken: 'x.y.z', audience: 'app-b' })
    .catch((e: unknown) => e)
  assert.ok(refused instanceof TokenExchangeError)
  assert.equal(refused.error, 'network_error')
  assert.equal(refused.statusCode, undefined)

  const { op, client } = await setup(t, { timeoutMs: 150 })
  op.exchangeBehaviour = { kind: 'hang' }
  const timedOut = await client
    .exchange({ subjectToken: await subjectToken(op), audience: 'app-b' })
    .catch((e: unknown) => e)
  assert.ok(timedOut instanceof TokenExchangeError)
  assert.equal(timedOut.error, 'network_error')
  assert.match(timedOut.description ?? '', /150 ms/)

  const unknownEndpoint = createTokenExchangeClient({
    tokenEndpoint: () => Promise.reject(new Error('discovery failed')),
    clientId: 'a',
    clientSecret: 's',
  })
  const noEndpoint = await unknownEndpoint
    .exchange({ subjectToken: 'x', audience: 'b' })
    .catch((e: unknown) => e)
  assert.ok(noEndpoint instanceof TokenExchangeError)
  assert.equal(noEndpoint.error, 'network_error')
})

test('createTokenExchangeClient without a client secret is a programming error', () => {
  assert.throws(
    () =>
      createTokenExchangeClient({
        tokenEndpoint: 'http://127.0.0.1/token',
        clientId: 'a',
        clientSecret: '',
      }),
    TypeError,
  )
})
