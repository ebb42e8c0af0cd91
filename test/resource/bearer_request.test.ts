/**
 * The framework-free side of the resource kit (`onbehalf/resource`): a plain node:http server
 * guarded by `createBearerAuthenticator` and answering refusals with `bearerErrorResponse`, driven
 * with real HTTP requests. Also `requireActor`, which accepts delegated tokens only.
 */
import assert from 'node:assert/strict'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import {
  bearerErrorResponse,
  createAccessTokenVerifier,
  createBearerAuthenticator,
  ResourceAuthError,
  type BearerAuthenticatorOptions,
} from '../../src/resource/index.js'
import {
  AUDIENCE,
  ISSUER,
  createTestKey,
  signAccessToken,
  startJwksServer,
  type JwksServer,
  type TestKey,
} from './helpers.js'

let key: TestKey
let jwks: JwksServer
let server: Server
let baseUrl: string

/** The service of the README's example, as small: only delegated App A tokens, `todos:read`. */
function startService(options: Omit<BearerAuthenticatorOptions, 'verifier'>): Promise<Server> {
  const verifier = createAccessTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: jwks.url,
    allowedCallers: ['app-a'],
    requireActor: true,
  })
  const authenticate = createBearerAuthenticator({ verifier, ...options })
  const service = createServer(async (request, response) => {
    try {
      const token = await authenticate(request)
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ user: token.sub, caller: token.caller }))
    } catch (error) {
      const { statusCode, headers, body } = bearerErrorResponse(error, 'app-b')
      response.writeHead(statusCode, headers).end(JSON.stringify(body))
    }
  })
  return new Promise((resolve) => service.listen(0, '127.0.0.1', () => resolve(service)))
}

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Record<string, unknown>
  text: string
}

/** node:http, so a request can carry two Authorization headers (fetch would merge them). */
function send(path: string, rawHeaders: [string, string][] = []): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${baseUrl}${path}`,
      { headers: [['host', new URL(baseUrl).host], ...rawHeaders].flat() },
      (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (text += chunk))
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
            text,
          }),
        )
      },
    )
    request.on('error', reject)
    request.end()
  })
}

before(async () => {
  key = await createTestKey('key-1')
  jwks = await startJwksServer([key])
  server = await startService({ scopes: ['todos:read'] })
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(async () => {
  await new Promise((resolve) => server.close(resolve))
  await jwks.close()
})

describe('createBearerAuthenticator on node:http', () => {
  test('when the token is delegated by an allowed caller then the user is served', async () => {
    const token = await signAccessToken(key)
    const answer = await send('/orders', [['authorization', `Bearer ${token}`]])
    assert.equal(answer.status, 200)
    assert.deepEqual(answer.body, { user: 'user-alice', caller: 'app-a' })
  })

  test('when no credentials are sent then a bare 401 challenge without error attributes', async () => {
    const answer = await send('/orders')
    assert.equal(answer.status, 401)
    assert.equal(answer.headers['www-authenticate'], 'Bearer realm="app-b"')
    assert.equal(answer.body.error, 'invalid_request')
    assert.equal(answer.headers['cache-control'], 'no-store')
  })

  test('when two Authorization headers are sent then invalid_request, even with a valid token', async () => {
    const token = await signAccessToken(key)
    const answer = await send('/orders', [
      ['authorization', `Bearer ${token}`],
      ['authorization', `Bearer ${token}`],
    ])
    assert.equal(answer.status, 400)
    assert.equal(answer.body.error, 'invalid_request')
    assert.match(String(answer.headers['www-authenticate']), /error="invalid_request"/)
  })

  test('when the token is in the query then invalid_request and the token is not echoed', async () => {
    const token = await signAccessToken(key)
    const answer = await send(`/orders?access_token=${token}`, [
      ['authorization', `Bearer ${token}`],
    ])
    assert.equal(answer.status, 400)
    assert.equal(answer.body.error, 'invalid_request')
    assert.ok(!answer.text.includes(token))
  })

  test('when the token is forged then invalid_token 401 without the private detail', async () => {
    const other = await createTestKey('key-1')
    const token = await signAccessToken(other)
    const answer = await send('/orders', [['authorization', `Bearer ${token}`]])
    assert.equal(answer.status, 401)
    assert.equal(answer.body.error, 'invalid_token')
    assert.deepEqual(Object.keys(answer.body).sort(), ['error', 'error_description'])
    assert.match(String(answer.headers['www-authenticate']), /error="invalid_token"/)
  })

  test('when the route scope is missing then insufficient_scope 403 naming the scope', async () => {
    const token = await signAccessToken(key, { claims: { scope: 'todos:write' } })
    const answer = await send('/orders', [['authorization', `Bearer ${token}`]])
    assert.equal(answer.status, 403)
    assert.equal(answer.body.error, 'insufficient_scope')
    assert.match(String(answer.headers['www-authenticate']), /scope="todos:read"/)
  })
})

describe('requireActor', () => {
  test("when the token is a service's own (client credentials) then insufficient_scope", async () => {
    const token = await signAccessToken(key, {
      claims: { sub: 'app-a', client_id: 'app-a', azp: 'app-a', act: undefined },
    })
    const answer = await send('/orders', [['authorization', `Bearer ${token}`]])
    assert.equal(answer.status, 403)
    assert.equal(answer.body.error, 'insufficient_scope')
  })

  test('when the token names the user but no actor then the verifier refuses it with the reason', async () => {
    const verifier = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUri: jwks.url,
      requireActor: true,
    })
    const token = await signAccessToken(key, { claims: { act: undefined } })
    await assert.rejects(verifier(token), (err: unknown) => {
      assert.ok(err instanceof ResourceAuthError)
      assert.equal(err.error, 'insufficient_scope')
      assert.equal(err.statusCode, 403)
      assert.match(err.detail, /not delegated/)
      return true
    })
  })

  test('when requireActor is off then the same undelegated token is accepted', async () => {
    const verifier = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUri: jwks.url,
    })
    const token = await signAccessToken(key, { claims: { act: undefined } })
    const verified = await verifier(token)
    assert.deepEqual(verified.actorChain, [])
    assert.equal(verified.caller, 'app-a')
  })

  test('when requireActor is not a boolean then a TypeError at creation', () => {
    assert.throws(
      () =>
        createAccessTokenVerifier({
          issuer: ISSUER,
          audience: AUDIENCE,
          jwksUri: jwks.url,
          requireActor: 'yes' as unknown as boolean,
        }),
      { name: 'TypeError', message: /requireActor/ },
    )
  })
})

describe('bearerErrorResponse', () => {
  test('when the key set cannot be fetched then 503 with Retry-After and no challenge', () => {
    const answer = bearerErrorResponse(
      new ResourceAuthError('temporarily_unavailable', { detail: 'jwks down' }),
      'app-b',
    )
    assert.equal(answer.statusCode, 503)
    assert.equal(answer.headers['retry-after'], '5')
    assert.equal(answer.headers['www-authenticate'], undefined)
    assert.ok(!JSON.stringify(answer).includes('jwks down'))
  })

  test('when the realm would break the quoted string then a TypeError', () => {
    const err = new ResourceAuthError('invalid_token', { detail: 'x' })
    assert.throws(() => bearerErrorResponse(err, 'a"b'), TypeError)
  })
})
