/**
 * The resource kit's Txn-Token side (draft-ietf-oauth-transaction-tokens-10 §12), over real HTTP:
 * a real STS in Txn-Token Service mode on 127.0.0.1 port 0 issues the txn tokens (and, for the
 * "beside a bearer token" route, an exchanged access token), a workload built with the kit's
 * Fastify hooks verifies them against the STS's JWKS. Every refusal asserts the status, the error
 * code, and that the route's handler never ran.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { createAccessTokenVerifier, createTxnTokenVerifier } from '../../src/resource/index.js'
import { bearerAuth, requireTxnToken } from '../../src/resource/fastify.js'
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
  TXN_SECRETS,
  txnStsConfigJson,
} from '../sts/helpers.js'

const TXN_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:txn_token'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

describe('resource kit: Txn-Token header verification', () => {
  let upstream: FakeUpstream
  let sts: FastifyInstance
  let stsUrl: string
  let workload: FastifyInstance
  let workloadUrl: string
  const clock = manualClock()
  const keyDir = tempDir()
  const handled: string[] = []

  before(async () => {
    upstream = await new FakeUpstream().start()
    sts = await buildSts(
      loadConfig(
        txnStsConfigJson({ keyDir: keyDir.path, upstreamIssuer: upstream.issuer }),
        TXN_SECRETS,
      ),
      { logger: captureLogger().logger, now: clock.now },
    )
    stsUrl = await sts.listen({ host: '127.0.0.1', port: 0 })

    const txnVerifier = createTxnTokenVerifier({
      issuer: STS_ISSUER,
      trustDomain: TRUST_DOMAIN,
      jwksUri: `${stsUrl}/jwks`,
      now: clock.now,
    })
    const foreignDomain = createTxnTokenVerifier({
      issuer: STS_ISSUER,
      trustDomain: 'other-domain.example',
      jwksUri: `${stsUrl}/jwks`,
      now: clock.now,
    })
    const onlyFromAppC = createTxnTokenVerifier({
      issuer: STS_ISSUER,
      trustDomain: TRUST_DOMAIN,
      jwksUri: `${stsUrl}/jwks`,
      allowedWorkloads: ['app-c'],
      now: clock.now,
    })
    const accessVerifier = createAccessTokenVerifier({
      issuer: STS_ISSUER,
      audience: 'app-b',
      jwksUri: `${stsUrl}/jwks`,
      now: clock.now,
    })

    workload = Fastify({ logger: false })
    await workload.register(bearerAuth, { realm: 'app-c' })
    const answer = (name: string) => async (request: any) => {
      handled.push(name)
      return {
        txn: request.txnToken?.txn,
        sub: request.txnToken?.sub,
        reqWl: request.txnToken?.reqWl,
      }
    }
    workload.post(
      '/txn',
      { preHandler: requireTxnToken({ verifier: txnVerifier, scopes: ['todos:write'] }) },
      answer('txn'),
    )
    workload.post(
      '/foreign',
      { preHandler: requireTxnToken({ verifier: foreignDomain }) },
      answer('foreign'),
    )
    workload.post(
      '/app-c-only',
      { preHandler: requireTxnToken({ verifier: onlyFromAppC }) },
      answer('app-c-only'),
    )
    workload.post(
      '/both',
      {
        preHandler: [
          workload.requireBearer({ verifier: accessVerifier }),
          requireTxnToken({ verifier: txnVerifier }),
        ],
      },
      answer('both'),
    )
    workload.post(
      '/bearer',
      { preHandler: workload.requireBearer({ verifier: accessVerifier }) },
      answer('bearer'),
    )
    workloadUrl = await workload.listen({ host: '127.0.0.1', port: 0 })
  })

  after(async () => {
    await workload.close()
    await sts.close()
    await upstream.close()
    keyDir.remove()
  })

  async function txnToken(scope = 'todos:write'): Promise<string> {
    const response = await fetch(`${stsUrl}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('app-b', TXN_SECRETS.STS_APP_B_SECRET),
      },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        requested_token_type: TXN_TOKEN_TYPE,
        audience: TRUST_DOMAIN,
        scope,
        subject_token: upstream.token(
          { aud: 'app-b', client_id: 'app-b', scope: 'todos:read todos:write' },
          { now: clock.now() },
        ),
        subject_token_type: ACCESS_TOKEN_TYPE,
      }),
    })
    const body = (await response.json()) as Record<string, any>
    assert.equal(response.status, 200, JSON.stringify(body))
    return body.access_token
  }

  async function accessTokenForAppB(): Promise<string> {
    const response = await fetch(`${stsUrl}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('app-a', TXN_SECRETS.STS_APP_A_SECRET),
      },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        audience: 'app-b',
        subject_token: upstream.token(
          { aud: 'app-a', client_id: 'app-a', scope: 'todos:read' },
          { now: clock.now() },
        ),
        subject_token_type: ACCESS_TOKEN_TYPE,
      }),
    })
    const body = (await response.json()) as Record<string, any>
    assert.equal(response.status, 200, JSON.stringify(body))
    return body.access_token
  }

  async function call(path: string, headers: Record<string, string> | Array<[string, string]>) {
    const response = await fetch(`${workloadUrl}${path}`, { method: 'POST', headers })
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as any,
    }
  }

  async function refusedCall(
    path: string,
    headers: Record<string, string> | Array<[string, string]>,
    expected: { status: number; error: string },
  ) {
    const before = handled.length
    const result = await call(path, headers)
    assert.equal(result.status, expected.status, JSON.stringify(result.body))
    assert.equal(result.body.error, expected.error)
    assert.equal(result.headers.get('cache-control'), 'no-store')
    assert.equal(handled.length, before, 'the handler must not run')
    return result
  }

  it('txnTokenHeader when a valid txn token is sent in Txn-Token then the route sees txn, sub and req_wl', async () => {
    const token = await txnToken()
    const { status, body } = await call('/txn', { 'txn-token': token })
    assert.equal(status, 200, JSON.stringify(body))
    assert.equal(body.sub, 'user-1')
    assert.equal(body.reqWl, 'app-b')
    assert.match(body.txn, /^[0-9a-f-]{36}$/)
  })

  it('txnTokenHeader when no Txn-Token header is sent then 401 invalid_token and the handler does not run', async () => {
    const { body, headers } = await refusedCall('/txn', {}, { status: 401, error: 'invalid_token' })
    assert.equal(body.error_description, 'a txn token is required')
    assert.equal(
      headers.get('www-authenticate'),
      null,
      'a txn token is not a credential: no challenge',
    )
  })

  it('txnTokenHeader when the txn token is sent as a bearer token then refused on both kinds of route', async () => {
    const token = await txnToken()
    await refusedCall(
      '/txn',
      { authorization: `Bearer ${token}` },
      { status: 401, error: 'invalid_token' },
    )
    // A bearer route refuses it too: its typ is txntoken+jwt, not at+jwt (draft §13.13).
    await refusedCall(
      '/bearer',
      { authorization: `Bearer ${token}` },
      { status: 401, error: 'invalid_token' },
    )
  })

  it('txnTokenHeader when an access token is sent in Txn-Token then 401 invalid_token', async () => {
    const accessToken = await accessTokenForAppB()
    await refusedCall('/txn', { 'txn-token': accessToken }, { status: 401, error: 'invalid_token' })
  })

  it('txnTokenHeader when two Txn-Token headers are sent then 400 invalid_request', async () => {
    const token = await txnToken()
    await refusedCall(
      '/txn',
      [
        ['txn-token', token],
        ['txn-token', token],
      ],
      { status: 400, error: 'invalid_request' },
    )
  })

  it('txnTokenHeader when the txn token has expired then 401 invalid_token', async () => {
    const token = await txnToken()
    clock.advance(60 + 6)
    try {
      await refusedCall('/txn', { 'txn-token': token }, { status: 401, error: 'invalid_token' })
    } finally {
      clock.advance(-(60 + 6))
    }
  })

  it('txnTokenHeader when the txn token is replayed outside its trust domain then 401 invalid_token', async () => {
    const token = await txnToken()
    await refusedCall('/foreign', { 'txn-token': token }, { status: 401, error: 'invalid_token' })
  })

  it('txnTokenHeader when the context is altered then 401 invalid_token (signature)', async () => {
    const token = await txnToken()
    const [header, payload, signature] = token.split('.')
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'))
    claims.sub = 'admin'
    claims.tctx = { ...claims.tctx, amount: 1_000_000 }
    const altered = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`
    await refusedCall('/txn', { 'txn-token': altered }, { status: 401, error: 'invalid_token' })
  })

  it('txnTokenHeader when the txn token lacks the route scope then 403 insufficient_scope', async () => {
    const token = await txnToken('todos:read')
    await refusedCall('/txn', { 'txn-token': token }, { status: 403, error: 'insufficient_scope' })
  })

  it('txnTokenHeader when the requesting workload is not allowed then 403 insufficient_scope', async () => {
    const token = await txnToken()
    await refusedCall(
      '/app-c-only',
      { 'txn-token': token },
      { status: 403, error: 'insufficient_scope' },
    )
  })

  it('txnTokenHeader when a route needs a bearer token beside it then both are required', async () => {
    const token = await txnToken()
    const accessToken = await accessTokenForAppB()
    await refusedCall('/both', { 'txn-token': token }, { status: 401, error: 'invalid_request' })
    await refusedCall(
      '/both',
      { authorization: `Bearer ${accessToken}` },
      { status: 401, error: 'invalid_token' },
    )
    const { status, body } = await call('/both', {
      authorization: `Bearer ${accessToken}`,
      'txn-token': token,
    })
    assert.equal(status, 200, JSON.stringify(body))
    assert.equal(body.reqWl, 'app-b')
  })

  it('createTxnTokenVerifier when options are misused then TypeError at start-up', () => {
    assert.throws(
      () => createTxnTokenVerifier({ issuer: STS_ISSUER, trustDomain: TRUST_DOMAIN } as any),
      TypeError,
    )
    assert.throws(
      () =>
        createTxnTokenVerifier({
          issuer: STS_ISSUER,
          trustDomain: TRUST_DOMAIN,
          jwksUri: `${stsUrl}/jwks`,
          algorithms: ['HS256'],
        }),
      /must not contain HS256/,
    )
    assert.throws(
      () =>
        createTxnTokenVerifier({
          issuer: STS_ISSUER,
          trustDomain: TRUST_DOMAIN,
          jwksUri: `${stsUrl}/jwks`,
          clockToleranceSeconds: 600,
        }),
      /clockToleranceSeconds/,
    )
  })
})
