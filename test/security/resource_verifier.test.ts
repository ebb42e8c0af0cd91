/**
 * The security suite, resource side (S3 and S20 at the verifier of src/resource): App B's kind of
 * service API behind `requireBearer`, keys from a real JWKS served over HTTP. Every hostile token
 * is 401 `invalid_token` with a `WWW-Authenticate: Bearer` challenge.
 */
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { startProtectedApi } from './protected_api.js'
import { exportSPKI } from 'jose'
import {
  b64url,
  baseClaims,
  createTestKey,
  signAccessToken,
  signRaw,
  startJwksServer,
  type JwksServer,
  type TestKey,
} from '../resource/helpers.js'

describe('security suite: resource server verifier (S3, S20)', () => {
  let key: TestKey
  let jwks: JwksServer
  let api: { app: FastifyInstance; url: string }

  before(async () => {
    key = await createTestKey()
    jwks = await startJwksServer([key])
    api = await startProtectedApi(jwks)
  })
  after(async () => {
    await api?.app.close()
    await jwks?.close()
  })

  async function call(token: string) {
    const response = await fetch(api.url, { headers: { authorization: `Bearer ${token}` } })
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate') ?? '',
      body: (await response.json()) as Record<string, unknown>,
    }
  }

  it('S20 baseline: a well-formed delegated token is accepted', async () => {
    const response = await call(await signAccessToken(key))
    assert.equal(response.status, 200, JSON.stringify(response.body))
  })

  const hostile: Array<[string, () => Promise<string>]> = [
    ['alg none', async () => `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url(baseClaims())}.`],
    [
      'HS256 keyed with the public key (RS/HS confusion)',
      async () => {
        const header = b64url({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })
        const payload = b64url(baseClaims())
        const secret = await exportSPKI(key.publicKey)
        return `${header}.${payload}.${createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')}`
      },
    ],
    [
      'kid injection',
      async () =>
        signRaw(key, { alg: 'ES256', typ: 'at+jwt', kid: '../../../../dev/null' }, baseClaims()),
    ],
    [
      'jku header',
      async () =>
        signRaw(
          key,
          { alg: 'ES256', typ: 'at+jwt', kid: key.kid, jku: 'https://evil.example/jwks' },
          baseClaims(),
        ),
    ],
    [
      'x5u header',
      async () =>
        signRaw(
          key,
          { alg: 'ES256', typ: 'at+jwt', kid: key.kid, x5u: 'https://evil.example/c.pem' },
          baseClaims(),
        ),
    ],
    [
      'embedded jwk header',
      async () => signRaw(key, { alg: 'ES256', typ: 'at+jwt', jwk: key.publicJwk }, baseClaims()),
    ],
    [
      'unknown crit header (S10)',
      async () =>
        signRaw(
          key,
          { alg: 'ES256', typ: 'at+jwt', kid: key.kid, crit: ['x'], x: 1 },
          baseClaims(),
        ),
    ],
    ['missing aud', async () => signAccessToken(key, { omit: ['aud'] })],
    ['another audience', async () => signAccessToken(key, { claims: { aud: 'app-c' } })],
    [
      'another issuer',
      async () => signAccessToken(key, { claims: { iss: 'https://evil.example' } }),
    ],
    ['expired', async () => signAccessToken(key, { claims: { iat: 1000, exp: 2000 } })],
    ['signed by a key outside the JWKS', async () => signAccessToken(await createTestKey(key.kid))],
  ]
  for (const [name, make] of hostile) {
    it(`S20 JWT hygiene at the resource: ${name} is invalid_token`, async () => {
      const response = await call(await make())
      assert.equal(response.status, 401, JSON.stringify(response.body))
      assert.equal(response.body.error, 'invalid_token')
      assert.match(response.challenge, /^Bearer realm="app-b", error="invalid_token"/)
    })
  }

  for (const [name, header, extra] of [
    ['an ID token (typ JWT, nonce)', { typ: 'JWT' }, { nonce: 'n' }],
    [
      'a logout token (typ logout+jwt, events)',
      { typ: 'logout+jwt' },
      { events: { 'http://schemas.openid.net/event/backchannel-logout': {} } },
    ],
    ['a token without typ', { typ: undefined }, {}],
  ] as const) {
    it(`S3 explicit typing at the resource: ${name} is invalid_token`, async () => {
      const response = await call(
        await signAccessToken(key, { header: header as Record<string, unknown>, claims: extra }),
      )
      assert.equal(response.status, 401, JSON.stringify(response.body))
      assert.equal(response.body.error, 'invalid_token')
    })
  }

  it('S19 no oracle at the resource: expired, forged and wrong-audience tokens share one description', async () => {
    const bodies = new Set<string>()
    for (const token of [
      await signAccessToken(key, { claims: { iat: 1000, exp: 2000 } }),
      await signAccessToken(await createTestKey(key.kid)),
      await signAccessToken(key, { claims: { aud: 'app-c' } }),
    ]) {
      bodies.add(JSON.stringify((await call(token)).body))
    }
    assert.equal(bodies.size, 1, [...bodies].join(' | '))
  })
})
