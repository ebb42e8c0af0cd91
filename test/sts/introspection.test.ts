/**
 * RFC 7662 introspection at the STS, over real HTTP: the STS on 127.0.0.1 port 0 trusting a real
 * upstream (discovery + JWKS on port 0), its clock injected. app-a exchanges upstream tokens
 * toward app-b; app-b (a client and a target) is a resource server; `worker` is a client but no
 * target. Each case asserts the status, the error or the answer's members, and what must not be
 * said (no claim of a token the caller may not see).
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { ConfigError } from '../../src/config/config_error.js'
import { createDpopKey } from '../../src/client/dpop.js'
import { createJwsSigner } from '../../src/exchange/index.js'
import { buildSts } from '../../src/sts/app.js'
import {
  basic,
  captureLogger,
  CLIENT_SECRETS,
  FakeUpstream,
  formBody,
  loadConfig,
  manualClock,
  STS_ISSUER,
  stsConfigJson,
  tempDir,
} from './helpers.js'

const WORKER_SECRET = 'sts-worker-secret-0123456789-0123456789'
const APP_A = basic('app-a', CLIENT_SECRETS.STS_APP_A_SECRET)
const APP_B = basic('app-b', CLIENT_SECRETS.STS_APP_B_SECRET)
const WORKER = basic('worker', WORKER_SECRET)

function configJson(upstreamIssuer: string, keyDir: string, extra: Record<string, unknown> = {}) {
  const json = stsConfigJson({
    issuer: STS_ISSUER,
    keyDir,
    upstream: {
      issuer: upstreamIssuer,
      algorithms: ['ES256'],
      clients: { 'upstream-app-a': 'app-a' },
    },
  }) as Record<string, any>
  json.clients.worker = { secretEnv: 'STS_WORKER_SECRET', tokenExchange: { enabled: false } }
  return { ...json, ...extra }
}

function decodePayload(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))
}

describe('STS introspection (RFC 7662)', () => {
  let upstream: FakeUpstream
  let app: Awaited<ReturnType<typeof buildSts>>
  let url: string
  let lines: string[]
  const clock = manualClock()
  const keyDir = tempDir()

  before(async () => {
    upstream = await new FakeUpstream().start()
    const captured = captureLogger()
    lines = captured.lines
    app = await buildSts(
      loadConfig(configJson(upstream.issuer, keyDir.path), { STS_WORKER_SECRET: WORKER_SECRET }),
      { logger: captured.logger, now: clock.now },
    )
    url = await app.listen({ host: '127.0.0.1', port: 0 })
  })
  after(async () => {
    await app.close()
    await upstream.close()
    keyDir.remove()
  })

  async function exchange(
    claims: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ): Promise<string> {
    const response = await fetch(`${url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: APP_A,
        ...headers,
      },
      body: formBody({
        subject_token: upstream.token(claims, { now: clock.now() }),
        audience: 'app-b',
      }),
    })
    const body = (await response.json()) as Record<string, any>
    assert.equal(response.status, 200, JSON.stringify(body))
    return body.access_token
  }

  async function introspect(
    token: string,
    authorization: string | null = APP_B,
    extra: Record<string, string> = {},
  ): Promise<{ status: number; headers: Headers; body: Record<string, any> }> {
    const response = await fetch(`${url}/token/introspection`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(authorization === null ? {} : { authorization }),
      },
      body: new URLSearchParams({ token, ...extra }),
    })
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Record<string, any>,
    }
  }

  it('metadata when introspection is on then introspection_endpoint is advertised (RFC 8414)', async () => {
    const metadata = (await (
      await fetch(`${url}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, any>
    assert.equal(metadata.introspection_endpoint, `${STS_ISSUER}/token/introspection`)
    assert.deepEqual(metadata.introspection_endpoint_auth_methods_supported, [
      'client_secret_basic',
      'client_secret_post',
    ])
  })

  it('introspect when the resource server asks about a delegated token addressed to it then active with the whole act chain', async () => {
    const token = await exchange({ act: { sub: 'upstream-agent', act: { sub: 'upstream-gw' } } })
    const { status, headers, body } = await introspect(token)
    assert.equal(status, 200, JSON.stringify(body))
    assert.equal(headers.get('cache-control'), 'no-store')
    const claims = decodePayload(token)
    assert.equal(body.active, true)
    assert.equal(body.iss, STS_ISSUER)
    assert.equal(body.sub, 'user-1')
    assert.deepEqual(body.aud, ['app-b'])
    assert.equal(body.client_id, 'app-a')
    assert.equal(body.scope, 'todos:read')
    assert.equal(body.token_type, 'Bearer')
    assert.equal(body.exp, claims.exp)
    assert.equal(body.iat, claims.iat)
    assert.equal(body.jti, claims.jti)
    assert.deepEqual(body.act, {
      sub: 'app-a',
      iss: STS_ISSUER,
      act: { sub: 'upstream-agent', act: { sub: 'upstream-gw' } },
    })
    assert.equal(body.cnf, undefined)
    assert.ok(
      lines.some((line) => line.includes('"token_introspected"')),
      'the introspection is logged',
    )
    assert.ok(!lines.some((line) => line.includes(token)), 'the token is never logged')
  })

  it('introspect when the token is DPoP-bound then cnf.jkt and token_type DPoP are reported', async () => {
    const key = await createDpopKey({ now: clock.now })
    const token = await exchange(
      {},
      { dpop: await key.proof({ method: 'POST', url: `${STS_ISSUER}/token` }) },
    )
    const { status, body } = await introspect(token)
    assert.equal(status, 200, JSON.stringify(body))
    assert.equal(body.active, true)
    assert.equal(body.token_type, 'DPoP')
    assert.deepEqual(body.cnf, { jkt: key.jkt })
  })

  it('introspect when client_secret_post is used by the resource server then it is accepted', async () => {
    const token = await exchange()
    const { status, body } = await introspect(token, null, {
      client_id: 'app-b',
      client_secret: CLIENT_SECRETS.STS_APP_B_SECRET,
    })
    assert.equal(status, 200, JSON.stringify(body))
    assert.equal(body.active, true)
  })

  it('introspect when another resource server asks about a token not addressed to it then only active false', async () => {
    const token = await exchange()
    // app-a is a client and a target, so a resource server; the token is for app-b.
    const { status, body } = await introspect(token, APP_A)
    assert.equal(status, 200)
    assert.deepEqual(body, { active: false })
  })

  it('introspect when the caller is a client but not a resource server then unauthorized_client', async () => {
    const token = await exchange()
    const { status, body } = await introspect(token, WORKER)
    assert.equal(status, 400)
    assert.equal(body.error, 'unauthorized_client')
    assert.equal(body.active, undefined)
    assert.equal(body.sub, undefined)
  })

  it('introspect when the secret is wrong or missing then 401 invalid_client and nothing said', async () => {
    const token = await exchange()
    for (const authorization of [basic('app-b', 'wrong-secret-0123456789-0123456789'), null]) {
      const { status, body } = await introspect(token, authorization)
      assert.equal(status, 401)
      assert.equal(body.error, 'invalid_client')
      assert.equal(body.active, undefined)
    }
  })

  it('introspect when the token parameter is missing then invalid_request', async () => {
    const response = await fetch(`${url}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: APP_B },
      body: '',
    })
    assert.equal(response.status, 400)
    assert.equal(((await response.json()) as Record<string, any>).error, 'invalid_request')
  })

  it('introspect when the token was not signed by the STS then active false', async () => {
    // An upstream token for app-b: signed by a trusted upstream, but not issued by the STS.
    const upstreamToken = upstream.token({ aud: 'app-b', client_id: 'app-b' }, { now: clock.now() })
    assert.deepEqual((await introspect(upstreamToken)).body, { active: false })
    // The STS's claims under a key the attacker made up, with the STS's kid.
    const real = decodePayload(await exchange())
    const kid = JSON.parse(
      Buffer.from((await exchange()).split('.')[0]!, 'base64url').toString('utf8'),
    ).kid
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const forged = createJwsSigner({ alg: 'ES256', kid, privateKey }).sign(
      { typ: 'at+jwt' },
      { ...real, jti: randomUUID() },
    )
    assert.deepEqual((await introspect(forged)).body, { active: false })
    assert.deepEqual((await introspect('not-a-jwt')).body, { active: false })
  })

  it('introspect when the token has expired then active false', async () => {
    const token = await exchange()
    assert.equal((await introspect(token)).body.active, true)
    clock.advance(decodePayload(token).exp - clock.now() + 120)
    assert.deepEqual((await introspect(token)).body, { active: false })
  })
})

describe('STS introspection configuration', () => {
  it('config when resourceServers names a client that is no target then ConfigError naming the field', () => {
    const keyDir = tempDir()
    try {
      assert.throws(
        () =>
          loadConfig(
            configJson('https://upstream.example', keyDir.path, {
              introspection: { resourceServers: ['worker'] },
            }),
            { STS_WORKER_SECRET: WORKER_SECRET },
          ),
        (error: unknown) =>
          error instanceof ConfigError &&
          /introspection\.resourceServers\.0: "worker" must be both a configured client and a configured target/.test(
            error.message,
          ),
      )
      assert.throws(
        () =>
          loadConfig(
            configJson('https://upstream.example', keyDir.path, {
              introspection: { enabled: 'yes' },
            }),
            { STS_WORKER_SECRET: WORKER_SECRET },
          ),
        (error: unknown) =>
          error instanceof ConfigError && /introspection\.enabled/.test(error.message),
      )
    } finally {
      keyDir.remove()
    }
  })

  it('introspect when resourceServers narrows the callers then a target left out is unauthorized_client', async () => {
    const upstream = await new FakeUpstream().start()
    const keyDir = tempDir()
    const app = await buildSts(
      loadConfig(
        configJson(upstream.issuer, keyDir.path, {
          introspection: { resourceServers: ['app-b'] },
        }),
        { STS_WORKER_SECRET: WORKER_SECRET },
      ),
      { logger: captureLogger().logger },
    )
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 })
      const response = await fetch(`${url}/token/introspection`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: APP_A },
        body: new URLSearchParams({ token: 'x.y.z' }),
      })
      assert.equal(response.status, 400)
      assert.equal(((await response.json()) as Record<string, any>).error, 'unauthorized_client')
    } finally {
      await app.close()
      await upstream.close()
      keyDir.remove()
    }
  })

  it('introspect when introspection is disabled then 404 and discovery does not advertise it', async () => {
    const upstream = await new FakeUpstream().start()
    const keyDir = tempDir()
    const app = await buildSts(
      loadConfig(configJson(upstream.issuer, keyDir.path, { introspection: { enabled: false } }), {
        STS_WORKER_SECRET: WORKER_SECRET,
      }),
      { logger: captureLogger().logger },
    )
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 })
      const response = await fetch(`${url}/token/introspection`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: APP_B },
        body: new URLSearchParams({ token: 'x.y.z' }),
      })
      assert.equal(response.status, 404)
      const metadata = (await (
        await fetch(`${url}/.well-known/oauth-authorization-server`)
      ).json()) as Record<string, any>
      assert.equal(metadata.introspection_endpoint, undefined)
    } finally {
      await app.close()
      await upstream.close()
      keyDir.remove()
    }
  })
})
