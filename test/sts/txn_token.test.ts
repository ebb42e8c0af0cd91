/**
 * The STS's Txn-Token Service mode (draft-ietf-oauth-transaction-tokens-10), over real HTTP: the
 * STS listens on 127.0.0.1 port 0, a real upstream (discovery + JWKS on port 0) signs the subject
 * access tokens, the clock is injected. Each rule of the draft that the service must keep is one
 * test, asserting the status, the error code and the claims, and for every refusal that no token
 * left (no `access_token` in the body) and that the refusal was audited.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import { ConfigError } from '../../src/config/config_error.js'
import { createJwsSigner } from '../../src/exchange/index.js'
import { buildSts } from '../../src/sts/app.js'
import {
  basic,
  captureLogger,
  FakeUpstream,
  loadConfig,
  manualClock,
  STS_ISSUER,
  tempDir,
  TRUST_DOMAIN,
  TXN_SECRETS as SECRETS,
  txnStsConfigJson,
} from './helpers.js'

const TXN_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:txn_token'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const APP_B = basic('app-b', SECRETS.STS_APP_B_SECRET)
const APP_C = basic('app-c', SECRETS.STS_APP_C_SECRET)

function decodePart(part: string): Record<string, any> {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
}

function decodeJwt(token: string): { header: Record<string, any>; payload: Record<string, any> } {
  const [header, payload] = token.split('.')
  return { header: decodePart(header!), payload: decodePart(payload!) }
}

function auditEvents(lines: readonly string[]) {
  return lines.filter((line) => line.includes('"audit"')).map((line) => JSON.parse(line).audit)
}

describe('STS Txn-Token Service (draft-ietf-oauth-transaction-tokens-10)', () => {
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
      loadConfig(
        txnStsConfigJson({ keyDir: keyDir.path, upstreamIssuer: upstream.issuer }),
        SECRETS,
      ),
      { logger: captured.logger, now: clock.now },
    )
    url = await app.listen({ host: '127.0.0.1', port: 0 })
  })
  after(async () => {
    await app.close()
    await upstream.close()
    keyDir.remove()
  })

  /** An upstream access token issued for App B (aud app-b), as App A's exchange gives it. */
  function userTokenForAppB(claims: Record<string, unknown> = {}): string {
    return upstream.token(
      { aud: 'app-b', client_id: 'app-b', scope: 'todos:read todos:write', ...claims },
      { now: clock.now() },
    )
  }

  async function requestTxnToken(
    params: Record<string, string | undefined>,
    authorization = APP_B,
  ): Promise<{ status: number; headers: Headers; body: Record<string, any> }> {
    const form = new URLSearchParams()
    const all: Record<string, string | undefined> = {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      requested_token_type: TXN_TOKEN_TYPE,
      audience: TRUST_DOMAIN,
      scope: 'todos:write',
      subject_token_type: ACCESS_TOKEN_TYPE,
      ...params,
    }
    for (const [name, value] of Object.entries(all)) if (value !== undefined) form.set(name, value)
    const response = await fetch(`${url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
      body: form,
    })
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Record<string, any>,
    }
  }

  async function refused(
    params: Record<string, string | undefined>,
    expected: { status: number; error: string; reason: RegExp },
    authorization = APP_B,
  ) {
    const before = auditEvents(lines).length
    const { status, body, headers } = await requestTxnToken(params, authorization)
    assert.equal(status, expected.status, JSON.stringify(body))
    assert.equal(body.error, expected.error)
    assert.equal(body.access_token, undefined, 'no token may leave on a refusal')
    assert.equal(headers.get('cache-control'), 'no-store')
    const events = auditEvents(lines).slice(before)
    assert.equal(events.length, 1, 'exactly one audit event per request')
    assert.equal(events[0].outcome, 'refused')
    assert.equal(events[0].issuedJti, undefined)
    assert.match(events[0].reason ?? '', expected.reason)
    return body
  }

  it('txnToken when the subject token is DPoP-bound (cnf.jkt) then invalid_grant and no txn token strips the binding', async () => {
    await refused(
      {
        subject_token: userTokenForAppB({
          cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' },
        }),
      },
      { status: 400, error: 'invalid_grant', reason: /DPoP-bound/ },
    )
    await refused(
      {
        subject_token: userTokenForAppB({
          cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' },
        }),
      },
      { status: 400, error: 'invalid_grant', reason: /DPoP-bound/ },
    )
  })

  async function jwks(): Promise<JSONWebKeySet> {
    return (await (await fetch(`${url}/jwks`)).json()) as JSONWebKeySet
  }

  it('txnToken when App B exchanges the access token it received then a txntoken+jwt for the trust domain with the draft claims', async () => {
    const subjectToken = userTokenForAppB()
    const before = auditEvents(lines).length
    const { status, headers, body } = await requestTxnToken({
      subject_token: subjectToken,
      request_context: JSON.stringify({ req_ip: '203.0.113.7', authn: 'pwd' }),
      request_details: JSON.stringify({ action: 'todo.added' }),
    })
    assert.equal(status, 200, JSON.stringify(body))
    // §11.4: token_type N_A, issued_token_type txn_token, no refresh token; no-store.
    assert.equal(body.token_type, 'N_A')
    assert.equal(body.issued_token_type, TXN_TOKEN_TYPE)
    assert.equal(body.refresh_token, undefined)
    assert.equal(headers.get('cache-control'), 'no-store')
    const { header, payload } = decodeJwt(body.access_token)
    // §9.1: typ txntoken+jwt, kid present.
    assert.equal(header.typ, 'txntoken+jwt')
    assert.equal(typeof header.kid, 'string')
    // §9.2: the required claims.
    assert.equal(payload.aud, TRUST_DOMAIN)
    assert.equal(payload.iss, STS_ISSUER)
    assert.equal(payload.sub, 'user-1')
    assert.equal(payload.scope, 'todos:write')
    assert.equal(payload.req_wl, 'app-b')
    assert.match(payload.txn, /^[0-9a-f-]{36}$/)
    assert.equal(payload.iat, Math.floor(clock.now()))
    assert.equal(payload.exp - payload.iat, 60, 'short-lived: the configured 60 s')
    assert.equal(body.expires_in, 60)
    assert.deepEqual(payload.rctx, { req_ip: '203.0.113.7', authn: 'pwd' })
    assert.deepEqual(payload.tctx, { action: 'todo.added' })
    // §13.4: the access token is never embedded, nor its other claims.
    assert.ok(!body.access_token.includes(subjectToken.split('.')[1]!))
    assert.ok(!JSON.stringify(payload).includes(subjectToken.split('.')[2]!))
    assert.equal(payload.client_id, undefined)
    assert.equal(payload.act, undefined)
    // The signature verifies with the STS's published keys and the declared typ.
    const verified = await jwtVerify(body.access_token, createLocalJWKSet(await jwks()), {
      typ: 'txntoken+jwt',
      audience: TRUST_DOMAIN,
      issuer: STS_ISSUER,
      currentDate: new Date(clock.now() * 1000),
    })
    assert.equal(verified.payload.txn, payload.txn)
    // One audit event, naming the txn (never the token).
    const events = auditEvents(lines).slice(before)
    assert.equal(events.length, 1)
    assert.equal(events[0].event, 'txn_token')
    assert.equal(events[0].outcome, 'issued')
    assert.equal(events[0].txn, payload.txn)
    assert.equal(events[0].issuedJti, payload.jti)
    assert.equal(events[0].clientId, 'app-b')
    assert.ok(!lines.join('').includes(body.access_token), 'the txn token is never logged')
    assert.ok(!lines.join('').includes(subjectToken), 'the subject token is never logged')
  })

  it('txnToken when two transactions start from the same access token then each has its own txn', async () => {
    const subjectToken = userTokenForAppB()
    const first = await requestTxnToken({ subject_token: subjectToken })
    const second = await requestTxnToken({ subject_token: subjectToken })
    assert.equal(first.status, 200)
    assert.equal(second.status, 200)
    assert.notEqual(
      decodeJwt(first.body.access_token).payload.txn,
      decodeJwt(second.body.access_token).payload.txn,
    )
  })

  it('txnToken when the access token expires sooner than the lifetime then the txn token expires with it', async () => {
    const { body } = await requestTxnToken({
      subject_token: userTokenForAppB({ exp: Math.floor(clock.now()) + 20 }),
    })
    const { payload } = decodeJwt(body.access_token)
    assert.equal(payload.exp - payload.iat, 20)
  })

  it('txnToken when the audience is not the trust domain then invalid_target and no token', async () => {
    await refused(
      { subject_token: userTokenForAppB(), audience: 'other-domain.example' },
      { status: 400, error: 'invalid_target', reason: /not the trust domain/ },
    )
  })

  it('txnToken when audience or scope is missing then invalid_request naming it and no token', async () => {
    const body = await refused(
      { subject_token: userTokenForAppB(), audience: undefined },
      { status: 400, error: 'invalid_request', reason: /audience missing/ },
    )
    assert.equal(body.error_description, 'audience is missing')
    const noScope = await refused(
      { subject_token: userTokenForAppB(), scope: undefined },
      { status: 400, error: 'invalid_request', reason: /scope missing/ },
    )
    assert.equal(noScope.error_description, 'scope is missing')
  })

  it('txnToken when the scope is wider than the access token then invalid_scope and no token', async () => {
    await refused(
      { subject_token: userTokenForAppB({ scope: 'todos:read' }), scope: 'todos:write' },
      { status: 400, error: 'invalid_scope', reason: /not granted by the subject token/ },
    )
  })

  it('txnToken when the scope is beyond the workload policy then invalid_scope and no token', async () => {
    await refused(
      { subject_token: userTokenForAppB({ scope: 'todos:read admin' }), scope: 'admin' },
      { status: 400, error: 'invalid_scope', reason: /not allowed for the workload/ },
    )
  })

  it('txnToken when the access token carries no scope then invalid_scope, never unconstrained', async () => {
    await refused(
      { subject_token: userTokenForAppB({ scope: undefined }), scope: 'todos:read' },
      { status: 400, error: 'invalid_scope', reason: /carries no scope/ },
    )
  })

  it('txnToken when the access token has expired then invalid_request and no token', async () => {
    const now = Math.floor(clock.now())
    await refused(
      { subject_token: userTokenForAppB({ iat: now - 600, exp: now - 60 }) },
      { status: 400, error: 'invalid_request', reason: /expired/ },
    )
  })

  it('txnToken when the access token was issued to another workload then invalid_request and no token', async () => {
    await refused(
      { subject_token: userTokenForAppB({ aud: 'app-a', client_id: 'app-a' }) },
      { status: 400, error: 'invalid_request', reason: /not addressed to the requesting client/ },
    )
  })

  it('txnToken when the workload is not allowed to request txn tokens then unauthorized_client and no token', async () => {
    await refused(
      { subject_token: userTokenForAppB() },
      { status: 400, error: 'unauthorized_client', reason: /no txn token policy/ },
      basic('app-a', SECRETS.STS_APP_A_SECRET),
    )
  })

  it('txnToken when the workload secret is wrong then 401 invalid_client and no token', async () => {
    const { status, body } = await requestTxnToken(
      { subject_token: userTokenForAppB() },
      basic('app-b', 'wrong-secret-wrong-secret-wrong-secret'),
    )
    assert.equal(status, 401)
    assert.equal(body.error, 'invalid_client')
    assert.equal(body.access_token, undefined)
  })

  it('txnToken when the subject is a refresh token, self-signed or unsigned JSON then invalid_request and no token', async () => {
    for (const type of [
      'urn:ietf:params:oauth:token-type:refresh_token',
      'urn:ietf:params:oauth:token-type:self_signed',
      'urn:ietf:params:oauth:token-type:unsigned_json',
    ]) {
      const body = await refused(
        { subject_token: userTokenForAppB(), subject_token_type: type },
        { status: 400, error: 'invalid_request', reason: /subject_token_type/ },
      )
      assert.equal(body.error_description, 'subject_token_type is not supported')
    }
  })

  it('txnToken when request_context is not a flat JSON object then invalid_request and no token', async () => {
    for (const context of ['not json', '[1,2]', '{"nested":{"a":1}}', '{"__proto__":"x"}']) {
      await refused(
        { subject_token: userTokenForAppB(), request_context: context },
        { status: 400, error: 'invalid_request', reason: /request_context/ },
      )
    }
  })

  it('txnToken when an upstream ID-token-like JWT is the subject then invalid_request and no token', async () => {
    const idToken = upstream.token(
      { aud: 'app-b', client_id: 'app-b', scope: 'todos:read', nonce: 'n' },
      { now: clock.now(), typ: 'JWT' },
    )
    await refused(
      { subject_token: idToken, scope: 'todos:read' },
      { status: 400, error: 'invalid_request', reason: /typ/ },
    )
  })

  it('txnToken when the access token carries an act chain then the txn token carries it unchanged and a replacement keeps it', async () => {
    const act = { sub: 'app-a', iss: upstream.issuer, act: { sub: 'assistant' } }
    const first = await requestTxnToken({ subject_token: userTokenForAppB({ act }) })
    assert.equal(first.status, 200, JSON.stringify(first.body))
    assert.deepEqual(decodeJwt(first.body.access_token).payload.act, act)
    const replaced = await requestTxnToken({
      subject_token: first.body.access_token,
      subject_token_type: TXN_TOKEN_TYPE,
    })
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body))
    assert.deepEqual(decodeJwt(replaced.body.access_token).payload.act, act)
  })

  it('txnToken when the access token carries may_act then invalid_grant and no txn token sheds the delegation', async () => {
    await refused(
      { subject_token: userTokenForAppB({ may_act: { sub: 'app-b' } }) },
      { status: 400, error: 'invalid_grant', reason: /may_act/ },
    )
  })

  it('txnToken when the access token carries act or may_act of another shape than an object with a string sub then invalid_request and no token', async () => {
    for (const value of [
      null,
      'app-a',
      7,
      [{ sub: 'app-a' }],
      {},
      { sub: 1 },
      { sub: 'a', act: 'b' },
    ]) {
      for (const claim of ['act', 'may_act']) {
        await refused(
          { subject_token: userTokenForAppB({ [claim]: value }) },
          { status: 400, error: 'invalid_request', reason: new RegExp(claim) },
        )
      }
    }
  })

  it('txnToken when the act chain carried in has a cycle then invalid_request and no token', async () => {
    await refused(
      { subject_token: userTokenForAppB({ act: { sub: 'app-a', act: { sub: 'app-a' } } }) },
      { status: 400, error: 'invalid_request', reason: /cycle/ },
    )
  })

  describe('replacement (§13.15)', () => {
    async function firstTxnToken(): Promise<string> {
      const { status, body } = await requestTxnToken({
        subject_token: userTokenForAppB(),
        request_context: JSON.stringify({ req_ip: '203.0.113.7' }),
        request_details: JSON.stringify({ action: 'todo.added' }),
      })
      assert.equal(status, 200)
      return body.access_token
    }

    it('replace when a workload adds context then sub, aud and txn are kept and the requester chain grows', async () => {
      const original = await firstTxnToken()
      const { status, body } = await requestTxnToken({
        subject_token: original,
        subject_token_type: TXN_TOKEN_TYPE,
        scope: 'todos:write',
        request_details: JSON.stringify({ todo_id: 7 }),
      })
      assert.equal(status, 200, JSON.stringify(body))
      const before = decodeJwt(original).payload
      const after = decodeJwt(body.access_token).payload
      assert.equal(after.sub, before.sub)
      assert.equal(after.aud, before.aud)
      assert.equal(after.txn, before.txn)
      assert.notEqual(after.jti, before.jti)
      assert.deepEqual(after.tctx, { action: 'todo.added', todo_id: 7 })
      assert.deepEqual(after.rctx, { req_ip: '203.0.113.7' })
      assert.equal(after.req_wl, 'app-b')
      assert.deepEqual(after.req_wl_chain, ['app-b'])
    })

    it('replace when the scope narrows then the replacement has the narrower scope', async () => {
      const original = await firstTxnToken()
      const { status, body } = await requestTxnToken({
        subject_token: original,
        subject_token_type: TXN_TOKEN_TYPE,
        scope: 'todos:write',
      })
      assert.equal(status, 200)
      assert.equal(decodeJwt(body.access_token).payload.scope, 'todos:write')
    })

    it('replace when the scope widens then invalid_scope and no token', async () => {
      const original = await firstTxnToken()
      await refused(
        {
          subject_token: original,
          subject_token_type: TXN_TOKEN_TYPE,
          scope: 'todos:write todos:read',
        },
        { status: 400, error: 'invalid_scope', reason: /todos:read is not granted/ },
      )
    })

    it('replace when an asserted context value would change then invalid_request and no token', async () => {
      const original = await firstTxnToken()
      await refused(
        {
          subject_token: original,
          subject_token_type: TXN_TOKEN_TYPE,
          request_details: JSON.stringify({ action: 'todo.deleted' }),
        },
        { status: 400, error: 'invalid_request', reason: /would change a value/ },
      )
    })

    it('replace when the txn token has expired then invalid_request and no token', async () => {
      const original = await firstTxnToken()
      clock.advance(61)
      try {
        await refused(
          { subject_token: original, subject_token_type: TXN_TOKEN_TYPE },
          { status: 400, error: 'invalid_request', reason: /expired/ },
        )
      } finally {
        clock.advance(-61)
      }
    })

    it('replace when the workload may not replace then unauthorized_client and no token', async () => {
      const original = await firstTxnToken()
      await refused(
        { subject_token: original, subject_token_type: TXN_TOKEN_TYPE, scope: 'todos:read' },
        { status: 400, error: 'unauthorized_client', reason: /may not replace/ },
        APP_C,
      )
    })

    it('replace when the replacement limit is reached then invalid_request and no token', async () => {
      let token = await firstTxnToken()
      for (let round = 0; round < 2; round++) {
        const { status, body } = await requestTxnToken({
          subject_token: token,
          subject_token_type: TXN_TOKEN_TYPE,
        })
        assert.equal(status, 200)
        token = body.access_token
      }
      await refused(
        { subject_token: token, subject_token_type: TXN_TOKEN_TYPE },
        { status: 400, error: 'invalid_request', reason: /already replaced 2 times, limit 2/ },
      )
    })

    it('replace when a txn token is signed by another key then invalid_request and no token', async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const now = Math.floor(clock.now())
      const forged = createJwsSigner({ alg: 'ES256', kid: 'forged', privateKey }).sign(
        { typ: 'txntoken+jwt' },
        {
          iss: STS_ISSUER,
          aud: TRUST_DOMAIN,
          sub: 'admin',
          txn: randomUUID(),
          scope: 'todos:write',
          req_wl: 'app-b',
          iat: now,
          exp: now + 60,
          jti: randomUUID(),
        },
      )
      await refused(
        { subject_token: forged, subject_token_type: TXN_TOKEN_TYPE },
        { status: 400, error: 'invalid_request', reason: /failed JWS verification/ },
      )
    })

    it('replace when an access token is sent as a txn token then invalid_request and no token', async () => {
      await refused(
        { subject_token: userTokenForAppB(), subject_token_type: TXN_TOKEN_TYPE },
        { status: 400, error: 'invalid_request', reason: /failed JWS verification|typ/ },
      )
    })
  })

  it('exchange when a txn token is presented as an access token then invalid_request and no token', async () => {
    const { body: issued } = await requestTxnToken({ subject_token: userTokenForAppB() })
    const form = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: issued.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: 'app-b',
    })
    const response = await fetch(`${url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('app-a', SECRETS.STS_APP_A_SECRET),
      },
      body: form,
    })
    const body = (await response.json()) as Record<string, any>
    assert.equal(response.status, 400)
    assert.equal(body.error, 'invalid_request')
    assert.equal(body.access_token, undefined)
  })
})

describe('STS txn-token configuration', () => {
  const keyDir = tempDir()
  after(() => keyDir.remove())
  const base = () =>
    txnStsConfigJson({ keyDir: keyDir.path, upstreamIssuer: 'http://upstream.test' })

  it('config when the trust domain is malformed then ConfigError naming txnTokens.trustDomain', () => {
    const raw = base()
    raw.txnTokens.trustDomain = 'has spaces'
    assert.throws(
      () => loadConfig(raw, SECRETS),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((problem) => problem.includes('txnTokens.trustDomain')),
    )
  })

  it('config when the lifetime exceeds five minutes then ConfigError naming txnTokens.lifetimeSeconds', () => {
    const raw = base()
    raw.txnTokens.lifetimeSeconds = 3600
    assert.throws(
      () => loadConfig(raw, SECRETS),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((problem) => problem.includes('txnTokens.lifetimeSeconds')),
    )
  })

  it('config when a client has a txnToken block but there is no txnTokens section then ConfigError naming it', () => {
    const raw = base()
    delete raw.txnTokens
    assert.throws(
      () => loadConfig(raw, SECRETS),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((problem) => problem.includes('clients.app-b.txnToken')),
    )
  })

  it('config when two upstreams are trusted then ConfigError naming txnTokens (sub must be unique)', () => {
    const raw = base()
    raw.upstreams.second = { issuer: 'http://second.test', algorithms: ['ES256'] }
    assert.throws(
      () => loadConfig(raw, SECRETS),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((problem) => problem.includes('txnTokens: needs exactly one upstream')),
    )
  })

  it('txnToken when the STS has no txnTokens section then a txn token request is refused and nothing minted', async () => {
    const raw = base()
    delete raw.txnTokens
    delete raw.clients['app-b'].txnToken
    delete raw.clients['app-c'].txnToken
    const app = await buildSts(loadConfig(raw, SECRETS), { logger: captureLogger().logger })
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    try {
      const response = await fetch(`${url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: APP_B },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          requested_token_type: TXN_TOKEN_TYPE,
          audience: TRUST_DOMAIN,
          scope: 'todos:read',
          subject_token: 'x.y.z',
          subject_token_type: ACCESS_TOKEN_TYPE,
        }),
      })
      const body = (await response.json()) as Record<string, any>
      assert.equal(response.status, 400)
      assert.equal(body.access_token, undefined)
      assert.ok(['invalid_request', 'unauthorized_client'].includes(body.error), body.error)
    } finally {
      await app.close()
    }
  })
})
