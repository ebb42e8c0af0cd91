import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import formbody from '@fastify/formbody'
import Fastify, { type FastifyInstance } from 'fastify'
import { createAccessTokenVerifier } from '../../src/resource/index.js'
import { bearerAuth } from '../../src/resource/fastify.js'
import { redactUrlTokens, requestLogSerializer } from '../../src/log/request_serializer.js'
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
let app: FastifyInstance
const logLines: string[] = []

before(async () => {
  key = await createTestKey()
  jwks = await startJwksServer([key])
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk))
      done()
    },
  })
  app = Fastify({
    logger: { level: 'debug', stream, serializers: { req: requestLogSerializer as never } },
  })
  await app.register(formbody)
  await app.register(bearerAuth, { realm: 'app-b' })
  const verifier = createAccessTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: jwks.url,
    allowedCallers: ['app-a'],
  })
  const guard = app.requireBearer({ verifier })
  app.get('/api/me', { preHandler: guard }, async (request) => ({
    sub: request.accessToken?.sub,
    caller: request.accessToken?.caller,
  }))
  app.post('/api/me', { preHandler: guard }, async (request) => ({ sub: request.accessToken?.sub }))
  app.get(
    '/api/write',
    { preHandler: app.requireBearer({ verifier, scopes: ['todos:write'] }) },
    async () => ({}),
  )
  app.get('/api/boom', { onRequest: guard }, async () => {
    throw new Error('handler failure')
  })
  await app.ready()
})

after(async () => {
  await app.close()
  await jwks.close()
})

function bearer(token: string) {
  return { authorization: `Bearer ${token}` }
}

function assertRefused(
  res: { statusCode: number; headers: Record<string, unknown>; body: string },
  status: number,
  error: string,
) {
  assert.equal(res.statusCode, status)
  const body = JSON.parse(res.body) as Record<string, unknown>
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description'])
  assert.equal(body.error, error)
  assert.equal(res.headers['cache-control'], 'no-store')
  const challenge = String(res.headers['www-authenticate'])
  assert.match(challenge, /^Bearer realm="app-b", error="[a-z_]+", error_description="[^"]+"/)
  assert.ok(challenge.includes(`error="${error}"`))
  assert.doesNotMatch(res.body, /stack|at \w+ \(/)
  return body
}

describe('requireBearer', () => {
  test('when the token is valid then the route sees request.accessToken', async () => {
    const res = await app.inject({ url: '/api/me', headers: bearer(await signAccessToken(key)) })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { sub: 'user-alice', caller: 'app-a' })
  })

  test('when the scheme is spelled in lower case then it is accepted (RFC 6750 §2.1)', async () => {
    const token = await signAccessToken(key)
    const res = await app.inject({ url: '/api/me', headers: { authorization: `bearer ${token}` } })
    assert.equal(res.statusCode, 200)
  })

  test('when no Authorization is sent then 401 with a bare challenge', async () => {
    const res = await app.inject({ url: '/api/me' })
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="app-b"')
    assert.equal(res.json().error_description, 'a bearer access token is required')
  })

  test('when another scheme is sent then 401 with a bare challenge', async () => {
    const res = await app.inject({ url: '/api/me', headers: { authorization: 'Basic YTpi' } })
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="app-b"')
  })

  test('when the Bearer credentials are malformed then 400 invalid_request', async () => {
    for (const authorization of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a,b', 'Bearer "x"']) {
      const res = await app.inject({ url: '/api/me', headers: { authorization } })
      assertRefused(res, 400, 'invalid_request')
    }
  })

  test('when two Authorization headers are sent then 400 invalid_request', async () => {
    const token = await signAccessToken(key)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const res = await new Promise<{
      statusCode: number
      headers: Record<string, unknown>
      body: string
    }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/api/me',
          headers: [
            ['host', `127.0.0.1:${port}`],
            ['authorization', `Bearer ${token}`],
            ['Authorization', `Bearer ${token}`],
          ].flat(),
        },
        (response) => {
          let body = ''
          response.on('data', (chunk) => (body += chunk))
          response.on('end', () =>
            resolve({ statusCode: response.statusCode ?? 0, headers: response.headers, body }),
          )
        },
      )
      req.on('error', reject)
      req.end()
    })
    assertRefused(res, 400, 'invalid_request')
  })

  test('when the token is in the query then it is refused, with or without a header', async () => {
    const token = await signAccessToken(key)
    const alone = await app.inject({ url: `/api/me?access_token=${token}` })
    assertRefused(alone, 400, 'invalid_request')
    const both = await app.inject({ url: `/api/me?access_token=${token}`, headers: bearer(token) })
    assertRefused(both, 400, 'invalid_request')
  })

  test('when the token is in a form body then it is refused', async () => {
    const token = await signAccessToken(key)
    const res = await app.inject({
      method: 'POST',
      url: '/api/me',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `access_token=${token}`,
    })
    assertRefused(res, 400, 'invalid_request')
  })

  test('when the token is invalid then 401 invalid_token with one fixed description', async () => {
    const now = Math.floor(Date.now() / 1000)
    const expired = await signAccessToken(key, { claims: { exp: now - 600, iat: now - 900 } })
    const forged = await signAccessToken(await createTestKey(key.kid))
    const bodies = []
    for (const token of [expired, forged, 'abc.def.ghi']) {
      const res = await app.inject({ url: '/api/me', headers: bearer(token) })
      bodies.push(assertRefused(res, 401, 'invalid_token'))
    }
    assert.equal(new Set(bodies.map((b) => b.error_description)).size, 1, 'no oracle')
  })

  test('when the caller is not allowed then 403 insufficient_scope', async () => {
    const token = await signAccessToken(key, { claims: { act: { sub: 'app-evil' } } })
    const res = await app.inject({ url: '/api/me', headers: bearer(token) })
    assertRefused(res, 403, 'insufficient_scope')
  })

  test('when a route scope is missing then 403 with the scope in the challenge', async () => {
    const res = await app.inject({ url: '/api/write', headers: bearer(await signAccessToken(key)) })
    assertRefused(res, 403, 'insufficient_scope')
    assert.match(String(res.headers['www-authenticate']), /scope="todos:write"$/)
  })

  test('when used as onRequest then a valid token reaches the handler', async () => {
    const res = await app.inject({ url: '/api/boom', headers: bearer(await signAccessToken(key)) })
    assert.equal(res.statusCode, 500)
  })

  test('then no log line ever holds a token', async () => {
    const token = await signAccessToken(key, { claims: { act: { sub: 'app-evil' } } })
    await app.inject({ url: '/api/me', headers: bearer(token) })
    await app.inject({ url: `/api/me?access_token=${token}` })
    const [, payload, signature] = token.split('.')
    const logs = logLines.join('')
    assert.ok(logs.includes('bearer token refused'), 'refusals are logged')
    assert.ok(!logs.includes(payload ?? '<none>'), 'token payload not logged')
    assert.ok(!logs.includes(signature ?? '<none>'), 'token signature not logged')
  })
})

describe('redactUrlTokens', () => {
  test('then token-bearing query values are replaced and the rest kept', () => {
    assert.equal(
      redactUrlTokens('/api/me?x=1&access_token=abc.def&code=zz#f'),
      '/api/me?x=1&access_token=[redacted]&code=[redacted]#f',
    )
    assert.equal(redactUrlTokens('/api/me?mytoken=1'), '/api/me?mytoken=1')
  })
})

describe('bearerAuth plugin options', () => {
  test('when the realm is missing or has a quote then TypeError at registration', async () => {
    for (const realm of ['', 'a"b', undefined]) {
      const bad = Fastify()
      await assert.rejects(async () => {
        await bad.register(bearerAuth, { realm } as never)
      }, TypeError)
      await bad.close()
    }
  })
})
