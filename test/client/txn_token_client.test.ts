/**
 * The client kit's Txn-Token side over real HTTP: a real STS in Txn-Token Service mode, and two
 * workloads built with the resource kit — the first verifies the txn token and forwards it
 * unchanged (draft-ietf-oauth-transaction-tokens-10 §12.2) to the second, which must see the same
 * `txn`. Refusals surface as `TokenExchangeError` with the service's code and status.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import {
  createTxnTokenClient,
  TokenExchangeError,
  txnTokenHeaders,
} from '../../src/client/index.js'
import { createTxnTokenVerifier } from '../../src/resource/index.js'
import { receivedTxnToken, requireTxnToken } from '../../src/resource/fastify.js'
import { buildSts } from '../../src/sts/app.js'
import {
  captureLogger,
  FakeUpstream,
  loadConfig,
  STS_ISSUER,
  tempDir,
  TRUST_DOMAIN,
  TXN_SECRETS,
  txnStsConfigJson,
} from '../sts/helpers.js'

describe('client kit: txn tokens', () => {
  let upstream: FakeUpstream
  let sts: FastifyInstance
  let stsUrl: string
  let first: FastifyInstance
  let second: FastifyInstance
  let firstUrl: string
  const keyDir = tempDir()
  const seenBySecond: Array<{ txn: string; sub: string }> = []

  before(async () => {
    upstream = await new FakeUpstream().start()
    sts = await buildSts(
      loadConfig(
        txnStsConfigJson({ keyDir: keyDir.path, upstreamIssuer: upstream.issuer }),
        TXN_SECRETS,
      ),
      { logger: captureLogger().logger },
    )
    stsUrl = await sts.listen({ host: '127.0.0.1', port: 0 })
    const verifier = createTxnTokenVerifier({
      issuer: STS_ISSUER,
      trustDomain: TRUST_DOMAIN,
      jwksUri: `${stsUrl}/jwks`,
    })

    second = Fastify({ logger: false })
    second.post('/leaf', { preHandler: requireTxnToken({ verifier }) }, async (request) => {
      seenBySecond.push({ txn: request.txnToken!.txn, sub: request.txnToken!.sub })
      return { ok: true }
    })
    const secondUrl = await second.listen({ host: '127.0.0.1', port: 0 })

    first = Fastify({ logger: false })
    first.post('/entry', { preHandler: requireTxnToken({ verifier }) }, async (request) => {
      // §12.2: outbound calls carry the txn token exactly as it was received.
      const response = await fetch(`${secondUrl}/leaf`, {
        method: 'POST',
        headers: txnTokenHeaders(receivedTxnToken(request)),
      })
      return { txn: request.txnToken!.txn, downstream: response.status }
    })
    firstUrl = await first.listen({ host: '127.0.0.1', port: 0 })
  })

  after(async () => {
    await first.close()
    await second.close()
    await sts.close()
    await upstream.close()
    keyDir.remove()
  })

  const client = (trustDomain = TRUST_DOMAIN, secret = TXN_SECRETS.STS_APP_B_SECRET) =>
    createTxnTokenClient({
      tokenEndpoint: `${stsUrl}/token`,
      clientId: 'app-b',
      clientSecret: secret,
      trustDomain,
    })

  const userToken = () =>
    upstream.token({ aud: 'app-b', client_id: 'app-b', scope: 'todos:read todos:write' })

  it('txnTokenClient when a workload requests and forwards a txn token then every hop sees the same txn', async () => {
    const result = await client().request({
      subjectToken: userToken(),
      scope: 'todos:write',
      requestContext: { req_ip: '198.51.100.4' },
      requestDetails: { action: 'todo.added' },
    })
    assert.match(result.txn ?? '', /^[0-9a-f-]{36}$/)
    assert.equal(result.scope, 'todos:write')
    assert.equal(result.claims?.req_wl, 'app-b')
    assert.deepEqual(result.claims?.tctx, { action: 'todo.added' })
    const response = await fetch(`${firstUrl}/entry`, {
      method: 'POST',
      headers: txnTokenHeaders(result.txnToken),
    })
    const body = (await response.json()) as Record<string, any>
    assert.equal(response.status, 200)
    assert.equal(body.txn, result.txn)
    assert.equal(body.downstream, 200)
    assert.deepEqual(seenBySecond.at(-1), { txn: result.txn, sub: 'user-1' })
  })

  it('txnTokenClient when a replacement adds details then the txn stays and the details grow', async () => {
    const original = await client().request({
      subjectToken: userToken(),
      scope: 'todos:write',
      requestDetails: { action: 'todo.added' },
    })
    const replaced = await client().replace({
      txnToken: original.txnToken,
      requestDetails: { todo_id: 3 },
    })
    assert.equal(replaced.txn, original.txn)
    assert.equal(replaced.scope, 'todos:write')
    assert.deepEqual(replaced.claims?.tctx, { action: 'todo.added', todo_id: 3 })
  })

  it('txnTokenClient when the trust domain is wrong then TokenExchangeError invalid_target 400', async () => {
    await assert.rejects(
      client('elsewhere.example').request({ subjectToken: userToken(), scope: 'todos:read' }),
      (error: unknown) =>
        error instanceof TokenExchangeError &&
        error.error === 'invalid_target' &&
        error.statusCode === 400,
    )
  })

  it('txnTokenClient when the secret is wrong then TokenExchangeError invalid_client 401', async () => {
    await assert.rejects(
      client(TRUST_DOMAIN, 'wrong-secret-wrong-secret-wrong-secret').request({
        subjectToken: userToken(),
        scope: 'todos:read',
      }),
      (error: unknown) =>
        error instanceof TokenExchangeError &&
        error.error === 'invalid_client' &&
        error.statusCode === 401,
    )
  })

  it('txnTokenClient when the server answers a bearer access token instead then invalid_response', async () => {
    // A token endpoint that ignores requested_token_type and returns an ordinary access token.
    const server: Server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(
        JSON.stringify({
          access_token: 'a.b.c',
          token_type: 'Bearer',
          issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          expires_in: 60,
        }),
      )
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as AddressInfo).port
      const wrong = createTxnTokenClient({
        tokenEndpoint: `http://127.0.0.1:${port}/token`,
        clientId: 'app-b',
        clientSecret: TXN_SECRETS.STS_APP_B_SECRET,
        trustDomain: TRUST_DOMAIN,
      })
      await assert.rejects(
        wrong.request({ subjectToken: userToken(), scope: 'todos:read' }),
        (error: unknown) =>
          error instanceof TokenExchangeError && error.error === 'invalid_response',
      )
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('txnTokenHeaders when the value is not one token then TypeError', () => {
    assert.throws(() => txnTokenHeaders('a.b.c, d.e.f'), TypeError)
    assert.deepEqual(txnTokenHeaders('a.b.c'), { 'txn-token': 'a.b.c' })
  })
})
