/**
 * The STS beyond the shared conformance suite: upstream trust against a real upstream (discovery +
 * JWKS on 127.0.0.1 port 0) with an injected clock — rotation under traffic, outage windows,
 * refusals — two instances sharing a key directory, the HTTP edge, and the config loader.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { readFileSync } from 'node:fs'
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import { ConfigError } from '../../src/config/env.js'
import { buildSts } from '../../src/sts/app.js'
import { bindSocket } from '../helpers/listen.js'
import { openStsKeyStore } from '../../src/sts/signing_keys.js'
import { parseStsConfig } from '../../src/sts/config.js'
import {
  basic,
  captureLogger,
  CLIENT_SECRETS,
  FakeUpstream,
  injectExchange,
  loadConfig,
  manualClock,
  stsConfigJson,
  tempDir,
} from './helpers.js'

const STS_ISSUER = 'http://sts.test'
const SUBJECT_INVALID = 'subject_token is invalid'

function auditEvents(lines: readonly string[]) {
  return lines.filter((line) => line.includes('"audit"')).map((line) => JSON.parse(line).audit)
}

async function jwksOf(app: Awaited<ReturnType<typeof buildSts>>): Promise<JSONWebKeySet> {
  return (await app.inject({ method: 'GET', url: '/jwks' })).json() as JSONWebKeySet
}

describe('STS upstream trust', () => {
  let upstream: FakeUpstream
  const keyDir = tempDir()
  before(async () => {
    upstream = await new FakeUpstream().start()
  })
  after(async () => {
    await upstream.close()
    keyDir.remove()
  })

  const configFor = (cache: Record<string, number>, extra: Record<string, unknown> = {}) =>
    loadConfig(
      stsConfigJson({
        issuer: STS_ISSUER,
        keyDir: keyDir.path,
        upstream: {
          issuer: upstream.issuer,
          algorithms: ['ES256'],
          clients: { 'upstream-app-a': 'app-a', 'upstream-app-b': 'app-b' },
          keyCache: cache,
          ...extra,
        },
      }),
    )

  it('upstream key rotation under traffic: no failed exchange', async () => {
    const clock = manualClock()
    const { logger } = captureLogger()
    const app = await buildSts(
      configFor({ maxAgeSeconds: 300, cooldownSeconds: 1, staleIfErrorSeconds: 600 }),
      { logger, now: clock.now },
    )
    const fetchesBefore = upstream.jwksRequests
    const statuses: number[] = []
    const kids = new Set<string>()
    const total = 240
    let next = 0
    const started = performance.now()
    async function worker() {
      while (next < total) {
        const i = next++
        // Time passes between rotations (more than the cooldown), as in production.
        if (i === 60 || i === 140) {
          clock.advance(31)
          upstream.rotate()
        }
        if (i === 200) upstream.retireOldest() // nothing signs with it any more
        kids.add(upstream.activeKid)
        const response = await injectExchange(app, {
          subject_token: upstream.token({}, { now: clock.now() }),
          audience: 'app-b',
        })
        statuses.push(response.status)
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    const elapsed = performance.now() - started
    await app.close()
    assert.equal(statuses.length, total)
    assert.deepEqual(
      statuses.filter((status) => status !== 200),
      [],
      'every exchange succeeded across two rotations',
    )
    assert.equal(kids.size, 3)
    const fetches = upstream.jwksRequests - fetchesBefore
    assert.ok(fetches <= 4, `JWKS fetched ${fetches} times for ${total} exchanges`)
    console.log(
      `# rotation under traffic: ${total} exchanges, 8 concurrent, 2 rotations, ${fetches} JWKS fetches, ${(elapsed / total).toFixed(2)} ms/exchange`,
    )
  })

  it('upstream down: cached keys serve within the window, then 503 temporarily_unavailable', async () => {
    const clock = manualClock()
    const { logger, lines } = captureLogger()
    const app = await buildSts(
      configFor({ maxAgeSeconds: 60, cooldownSeconds: 10, staleIfErrorSeconds: 120 }),
      { logger, now: clock.now },
    )
    const exchange = () =>
      injectExchange(app, {
        subject_token: upstream.token({}, { now: clock.now() }),
        audience: 'app-b',
      })
    try {
      assert.equal((await exchange()).status, 200)
      upstream.down = true
      clock.advance(100)
      assert.equal((await exchange()).status, 200, 'stale keys within maxAge + staleIfError')
      clock.advance(90)
      const refused = await exchange()
      // No verdict on the token: "retry later" (RFC 6749 temporarily_unavailable), not "invalid".
      assert.equal(refused.status, 503)
      assert.equal(refused.body.error, 'temporarily_unavailable')
      assert.equal(
        refused.body.error_description,
        'subject_token cannot be verified right now, retry later',
      )
      assert.equal(refused.headers['cache-control'], 'no-store')
      assert.match(String(refused.headers['retry-after']), /^\d+$/)
      const last = auditEvents(lines).at(-1)
      assert.equal(last.outcome, 'refused')
      assert.match(last.reason, /upstream keys unavailable/)
      assert.ok(lines.some((line) => line.includes('upstream_keys_fetch_failed')))
      const health = (await app.inject({ method: 'GET', url: '/healthz' })).json()
      assert.equal(health.upstreams[0].usable, false)

      upstream.down = false
      clock.advance(11)
      assert.equal((await exchange()).status, 200, 'recovers once the upstream answers')
    } finally {
      upstream.down = false
      await app.close()
    }
  })

  describe('refusals', () => {
    let app: Awaited<ReturnType<typeof buildSts>>
    let lines: string[]
    let stranger: FakeUpstream
    before(async () => {
      const captured = captureLogger()
      lines = captured.lines
      app = await buildSts(configFor({}), { logger: captured.logger })
      stranger = await new FakeUpstream().start()
    })
    after(async () => {
      await app.close()
      await stranger.close()
    })

    const refusedWith = async (token: string, reason: RegExp) => {
      const response = await injectExchange(app, { subject_token: token, audience: 'app-b' })
      assert.equal(response.status, 400, JSON.stringify(response.body))
      assert.equal(response.body.error, 'invalid_request')
      assert.equal(response.body.error_description, SUBJECT_INVALID)
      assert.match(auditEvents(lines).at(-1).reason, reason)
    }

    it('accepts the upstream token it is configured for', async () => {
      const response = await injectExchange(app, {
        subject_token: upstream.token(),
        audience: 'app-b',
      })
      assert.equal(response.status, 200, JSON.stringify(response.body))
    })
    it('untrusted issuer → invalid_request', async () => {
      await refusedWith(stranger.token(), /key_not_found/)
    })
    it('a token of an untrusted issuer claiming the trusted one → invalid_request', async () => {
      await refusedWith(stranger.token({ iss: upstream.issuer }), /key_not_found/)
    })
    it('typ not accepted → invalid_request', async () => {
      await refusedWith(upstream.token({}, { typ: 'JWT' }), /has typ "JWT"/)
    })
    it('subject not addressed to the requester → invalid_request (S2)', async () => {
      await refusedWith(
        upstream.token({ aud: 'upstream-app-b', client_id: 'upstream-app-b' }),
        /not addressed to the requesting client/,
      )
    })
    it('an upstream id equal to the STS client id but not mapped → invalid_request (S2)', async () => {
      await refusedWith(upstream.token({ aud: 'app-a', client_id: 'app-a' }), /not addressed/)
    })
  })
})

describe('STS with the authentik example config (deploy/sts/authentik.json)', () => {
  let upstream: FakeUpstream
  let app: Awaited<ReturnType<typeof buildSts>>
  const keyDir = tempDir()
  before(async () => {
    upstream = await new FakeUpstream().start('/application/o/app-a/')
    const raw = JSON.parse(readFileSync('deploy/sts/authentik.json', 'utf8'))
    const config = parseStsConfig(
      raw,
      {
        AUTHENTIK_ISSUER: upstream.issuer,
        AUTHENTIK_APP_A_CLIENT_ID: 'ak-app-a-client-id',
        STS_APP_A_CLIENT_SECRET: CLIENT_SECRETS.STS_APP_A_SECRET,
        DATA_DIR: keyDir.path,
        APP_B_URL: 'http://localhost:3994',
      },
      'authentik.json',
    )
    app = await buildSts(config, { logger: captureLogger().logger })
  })
  after(async () => {
    await app.close()
    await upstream.close()
    keyDir.remove()
  })

  /** What authentik ≤ 2026.5 puts in an access token: ID token claims + azp + uid, typ JWT. */
  const authentikAccessToken = (extra: Record<string, unknown> = {}) =>
    upstream.token(
      {
        sub: 'hashed-user-id',
        aud: 'ak-app-a-client-id',
        azp: 'ak-app-a-client-id',
        uid: 'random-uid',
        nonce: 'login-nonce',
        auth_time: 1,
        acr: 'goauthentik.io/providers/oauth2/default',
        client_id: undefined,
        jti: undefined,
        scope: undefined,
        ...extra,
      },
      { typ: 'JWT' },
    )

  it('exchanges an authentik access token for an STS token naming the user and app-a', async () => {
    const response = await injectExchange(app, {
      subject_token: authentikAccessToken(),
      audience: 'app-b',
    })
    assert.equal(response.status, 200, JSON.stringify(response.body))
    const { payload } = await jwtVerify(
      response.body.access_token,
      createLocalJWKSet(await jwksOf(app)),
      {
        issuer: 'http://localhost:9100',
        audience: 'app-b',
        typ: 'at+jwt',
      },
    )
    assert.equal(payload.sub, 'hashed-user-id')
    assert.equal(payload.client_id, 'app-a')
    assert.equal(payload.scope, 'todos:read')
    assert.deepEqual(payload.act, { sub: 'app-a', iss: 'http://localhost:9100' })
  })

  it('refuses an authentik ID token (no uid, at_hash)', async () => {
    const idToken = authentikAccessToken({ azp: undefined, uid: undefined, at_hash: 'x' })
    const response = await injectExchange(app, { subject_token: idToken, audience: 'app-b' })
    assert.equal(response.status, 400)
    assert.equal(response.body.error, 'invalid_request')
  })

  it('refuses a token of another authentik application', async () => {
    const other = authentikAccessToken({ aud: 'ak-app-b', azp: 'ak-app-b' })
    const response = await injectExchange(app, { subject_token: other, audience: 'app-b' })
    assert.equal(response.status, 400)
  })
})

describe('STS instances sharing a key directory', () => {
  let upstream: FakeUpstream
  const keyDir = tempDir()
  before(async () => {
    upstream = await new FakeUpstream().start()
  })
  after(async () => {
    await upstream.close()
    keyDir.remove()
  })

  it('a token minted by one verifies with the JWKS of the other, also after a rotation', async () => {
    const config = loadConfig(
      stsConfigJson({
        issuer: STS_ISSUER,
        keyDir: keyDir.path,
        upstream: {
          issuer: upstream.issuer,
          algorithms: ['ES256'],
          clients: { 'upstream-app-a': 'app-a' },
        },
      }),
    )
    const [first, second] = await Promise.all([
      buildSts(config, { logger: captureLogger().logger }),
      buildSts(config, { logger: captureLogger().logger }),
    ])
    try {
      const verifyWith = async (token: string, app: typeof first) =>
        jwtVerify(token, createLocalJWKSet(await jwksOf(app)), {
          issuer: STS_ISSUER,
          audience: 'app-b',
        })

      const fromFirst = await injectExchange(first, {
        subject_token: upstream.token(),
        audience: 'app-b',
      })
      assert.equal(fromFirst.status, 200)
      const { protectedHeader } = await verifyWith(fromFirst.body.access_token, second)
      assert.deepEqual(await jwksOf(first), await jwksOf(second))

      // As `onbehalf sts rotate-keys` does it: from outside both instances.
      const store = await openStsKeyStore({ ...config.keys, create: 'never' })
      const rotated = await store.rotate()
      await store.close()
      for (const app of [first, second]) {
        const kids = (await jwksOf(app)).keys.map((key) => key.kid)
        assert.deepEqual(kids, [rotated.active.kid, protectedHeader.kid], 'published at once')
      }
      // Each instance signs with the new key as soon as it sees the file change (events, or the
      // 1 s poll); whatever it mints meanwhile verifies with the other's JWKS.
      for (const [app, other] of [
        [first, second],
        [second, first],
      ] as const) {
        const deadline = Date.now() + 3000
        let kid: string | undefined
        for (;;) {
          const minted = await injectExchange(app, {
            subject_token: upstream.token(),
            audience: 'app-b',
          })
          assert.equal(minted.status, 200)
          kid = (await verifyWith(minted.body.access_token, other)).protectedHeader.kid
          if (kid === rotated.active.kid || Date.now() > deadline) break
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        assert.equal(kid, rotated.active.kid, 'both sign with the new key')
      }
      await verifyWith(fromFirst.body.access_token, second) // the retired key stays published
    } finally {
      await first.close()
      await second.close()
    }
  })
})

describe('STS HTTP edge', () => {
  let app: Awaited<ReturnType<typeof buildSts>>
  const keyDir = tempDir()
  before(async () => {
    const config = loadConfig(
      stsConfigJson({
        issuer: STS_ISSUER,
        keyDir: keyDir.path,
        upstream: { issuer: 'https://idp.invalid', jwksUri: 'https://idp.invalid/jwks' },
      }),
    )
    app = await buildSts(config, { logger: captureLogger().logger })
  })
  after(async () => {
    await app.close()
    keyDir.remove()
  })

  it('publishes RFC 8414 metadata, DPoP algorithms included (RFC 9449 §5.1)', async () => {
    const metadata = (
      await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
    ).json()
    assert.deepEqual(metadata, {
      issuer: STS_ISSUER,
      token_endpoint: `${STS_ISSUER}/token`,
      jwks_uri: `${STS_ISSUER}/jwks`,
      grant_types_supported: ['urn:ietf:params:oauth:grant-type:token-exchange'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint: `${STS_ISSUER}/token/introspection`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      dpop_signing_alg_values_supported: ['ES256', 'ES384', 'EdDSA', 'PS256'],
      scopes_supported: ['todos:read', 'todos:write'],
    })
  })

  it('publishes public keys only', async () => {
    const jwks = await jwksOf(app)
    assert.equal(jwks.keys.length, 1)
    assert.equal((jwks.keys[0] as Record<string, unknown>).d, undefined)
  })

  const post = (payload: string, contentType: string, authorization?: string) =>
    app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': contentType, ...(authorization ? { authorization } : {}) },
      payload,
    })

  for (const [name, payload, contentType] of [
    [
      'a JSON body',
      '{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange"}',
      'application/json',
    ],
    ['a text body', 'grant_type=x', 'text/plain'],
    [
      'a body over the limit',
      `subject_token=${'A'.repeat(70_000)}`,
      'application/x-www-form-urlencoded',
    ],
  ] as const) {
    it(`${name} → 400 invalid_request, no-store`, async () => {
      const response = await post(
        payload,
        contentType,
        basic('app-a', CLIENT_SECRETS.STS_APP_A_SECRET),
      )
      assert.equal(response.statusCode, 400)
      assert.equal(response.json().error, 'invalid_request')
      assert.equal(response.headers['cache-control'], 'no-store')
    })
  }

  it('a wrong Basic secret → 401 invalid_client with WWW-Authenticate', async () => {
    const response = await post(
      'grant_type=x',
      'application/x-www-form-urlencoded',
      basic('app-a', 'x'.repeat(40)),
    )
    assert.equal(response.statusCode, 401)
    assert.equal(response.json().error, 'invalid_client')
    assert.match(String(response.headers['www-authenticate']), /^Basic/)
  })

  it('another grant type → unsupported_grant_type', async () => {
    const response = await post(
      'grant_type=client_credentials',
      'application/x-www-form-urlencoded',
      basic('app-a', CLIENT_SECRETS.STS_APP_A_SECRET),
    )
    assert.equal(response.statusCode, 400)
    assert.equal(response.json().error, 'unsupported_grant_type')
  })

  it('an upstream that cannot be reached is a refused exchange, not a 5xx', async () => {
    const response = await injectExchange(app, {
      subject_token: new FakeUpstream().token(),
      audience: 'app-b',
    })
    assert.equal(response.status, 400)
    assert.equal(response.body.error, 'invalid_request')
  })

  it('healthz answers', async () => {
    const response = await app.inject({ method: 'GET', url: '/healthz' })
    assert.equal(response.statusCode, 200)
    assert.equal(response.json().ok, true)
  })
})

describe('STS configuration', () => {
  it('reports every problem at once, each naming its field', () => {
    const raw = stsConfigJson({
      issuer: 'not a url',
      keyDir: '/tmp/x',
      upstream: {
        issuer: 'https://idp.example',
        algorithms: ['HS256'],
        keyCache: { cooldownSeconds: -1 },
      },
    })
    assert.throws(
      () => loadConfig(raw),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        const text = err.problems.join('\n')
        assert.match(text, /test: issuer: /)
        assert.match(text, /upstreams\.upstream\.algorithms\[0\]: is not a supported JWS algorithm/)
        assert.match(text, /upstreams\.upstream\.keyCache\.cooldownSeconds: /)
        return true
      },
    )
  })

  it('names a missing secret, an unknown variable and a mapping to an unknown client', () => {
    const raw = stsConfigJson({
      issuer: '${NOT_SET}',
      keyDir: '/tmp/x',
      upstream: { issuer: 'https://idp.example', clients: { x: 'app-z' } },
    })
    assert.throws(
      () => parseStsConfig(raw, {}, 'f.json'),
      /f\.json: issuer: unknown variable \$\{NOT_SET\}/,
    )
    ;(raw as { issuer: string }).issuer = 'http://sts.test'
    assert.throws(
      () => parseStsConfig(raw, { STS_APP_A_SECRET: CLIENT_SECRETS.STS_APP_A_SECRET }, 'f.json'),
      (err: unknown) => {
        const text = (err as ConfigError).problems.join('\n')
        assert.match(text, /upstreams\.upstream\.clients\.x: "app-z" is not a configured client/)
        assert.match(text, /clients\.app-b\.secretEnv: STS_APP_B_SECRET is not set/)
        return true
      },
    )
  })

  for (const file of ['embedded', 'authentik', 'generic-oidc']) {
    it(`deploy/sts/${file}.json is valid`, () => {
      const raw = JSON.parse(readFileSync(`deploy/sts/${file}.json`, 'utf8'))
      const config = parseStsConfig(
        raw,
        {
          IDP_ISSUER: 'http://localhost:9000',
          APP_B_URL: 'http://localhost:3994',
          DATA_DIR: 'data',
          APP_A_CLIENT_SECRET: CLIENT_SECRETS.STS_APP_A_SECRET,
          APP_B_CLIENT_SECRET: CLIENT_SECRETS.STS_APP_B_SECRET,
          STS_APP_A_CLIENT_SECRET: CLIENT_SECRETS.STS_APP_A_SECRET,
        },
        file,
      )
      assert.equal(config.issuer, 'http://localhost:9100')
      assert.equal(config.port, 9100)
      assert.equal(config.upstreams.length, 1)
      // npm start's STS is also the Txn-Token Service of App B and App C's trust domain.
      if (file === 'embedded') {
        assert.equal(config.txnTokens?.trustDomain, 'onbehalf.local')
        assert.equal(config.txnTokens?.workloads.get('app-b')?.enabled, true)
      } else {
        assert.equal(config.txnTokens, undefined)
      }
    })
  }
})

describe('STS abuse limit', () => {
  it('token requests beyond the per-IP limit → 429 temporarily_unavailable with Retry-After; 0 switches it off', async () => {
    for (const [limit, expectThrottle] of [
      [2, true],
      [0, false],
    ] as const) {
      const keyDir = tempDir()
      const config = loadConfig({
        ...stsConfigJson({
          issuer: STS_ISSUER,
          keyDir: keyDir.path,
          upstream: { issuer: 'https://idp.invalid', jwksUri: 'https://idp.invalid/jwks' },
        }),
        tokenRequestsPerMinutePerIp: limit,
      })
      const app = await buildSts(config, { logger: captureLogger().logger })
      try {
        const statuses: number[] = []
        let last
        for (let i = 0; i < 3; i++) {
          last = await app.inject({
            method: 'POST',
            url: '/token',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: 'grant_type=x',
          })
          statuses.push(last.statusCode)
        }
        if (expectThrottle) {
          assert.deepEqual(statuses, [401, 401, 429])
          assert.equal(last!.json().error, 'temporarily_unavailable')
          assert.ok(Number(last!.headers['retry-after']) >= 1)
          assert.equal(last!.headers['cache-control'], 'no-store')
        } else {
          assert.deepEqual(statuses, [401, 401, 401])
        }
      } finally {
        await app.close()
        keyDir.remove()
      }
    }
  })
})

describe('STS token endpoint logging', () => {
  let upstream: FakeUpstream
  const keyDir = tempDir()
  before(async () => {
    upstream = await new FakeUpstream().start()
  })
  after(async () => {
    await upstream.close()
    keyDir.remove()
  })

  it('When exchanges and a bad body reach POST /token over HTTP Then each leaves one line of its own and no Fastify request lines, while other routes keep theirs', async (t) => {
    const { logger, lines } = captureLogger()
    const socket = await bindSocket()
    const app = await buildSts(
      loadConfig(
        stsConfigJson({
          issuer: STS_ISSUER,
          keyDir: keyDir.path,
          upstream: {
            issuer: upstream.issuer,
            algorithms: ['ES256'],
            clients: { 'upstream-app-a': 'app-a', 'upstream-app-b': 'app-b' },
          },
        }),
      ),
      { logger },
    )
    await socket.serve(app)
    t.after(async () => {
      await socket.close()
      await app.close()
    })
    const post = (body: string, contentType = 'application/x-www-form-urlencoded') =>
      fetch(`${socket.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': contentType,
          authorization: basic('app-a', CLIENT_SECRETS.STS_APP_A_SECRET),
        },
        body,
      })
    const subjectTokens = [upstream.token({}), upstream.token({})]
    for (const subjectToken of subjectTokens) {
      const answer = await post(
        new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token: subjectToken,
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          audience: 'app-b',
        }).toString(),
      )
      assert.equal(answer.status, 200)
    }
    const refused = await post(
      JSON.stringify({ subject_token: subjectTokens[0] }),
      'application/json',
    )
    assert.equal(refused.status, 400)
    assert.equal((await refused.json()).error, 'invalid_request')
    assert.equal((await fetch(`${socket.url}/healthz`)).status, 200)

    const parsed = lines.map((line) => JSON.parse(line) as Record<string, any>)
    const audits = parsed.filter((line) => line.audit)
    assert.equal(audits.length, 2, 'one audit line per decision')
    assert.ok(audits.every((line) => line.audit.outcome === 'issued'))
    const invalid = parsed.filter((line) => line.event === 'token_request_invalid')
    assert.equal(invalid.length, 1, 'the body refused before the engine is logged once')
    const requestLines = parsed.filter((line) => line.req || line.res)
    // Only the GET /healthz request has Fastify's incoming/completed pair.
    assert.equal(requestLines.length, 2)
    assert.ok(requestLines.every((line) => line.req === undefined || line.req.url === '/healthz'))
    // Never a token in a log line.
    for (const token of subjectTokens) assert.ok(!lines.some((line) => line.includes(token)))
  })
})
