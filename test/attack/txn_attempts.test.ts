/**
 * The transaction-token attack attempts over real HTTP: a real STS in Txn-Token Service mode
 * (injected clock, so a token whose lifetime has passed can be captured), a workload of the trust
 * domain and one of another domain (both on the resource kit's `requireTxnToken`), and a bearer
 * API (the kit's `requireBearer`). A control call first shows the captured token does work where
 * it belongs, so every BLOCKED verdict below is the defence, not a broken setup.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { runTxnAttackLab, TXN_ATTEMPTS, type TxnLabConfig } from '../../src/attack/index.js'
import { createTxnTokenClient } from '../../src/client/index.js'
import { createAccessTokenVerifier, createTxnTokenVerifier } from '../../src/resource/index.js'
import { bearerAuth, requireTxnToken } from '../../src/resource/fastify.js'
import { buildSts } from '../../src/sts/app.js'
import {
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

describe('attack lab: transaction tokens', () => {
  let upstream: FakeUpstream
  const servers: FastifyInstance[] = []
  const clock = manualClock()
  const keyDir = tempDir()
  let config: TxnLabConfig
  let handled = 0

  before(async () => {
    upstream = await new FakeUpstream().start()
    const sts = await buildSts(
      loadConfig(
        txnStsConfigJson({ keyDir: keyDir.path, upstreamIssuer: upstream.issuer }),
        TXN_SECRETS,
      ),
      { logger: captureLogger().logger, now: clock.now },
    )
    servers.push(sts)
    const stsUrl = await sts.listen({ host: '127.0.0.1', port: 0 })

    const workloadFor = async (trustDomain: string) => {
      const app = Fastify({ logger: false })
      const verifier = createTxnTokenVerifier({
        issuer: STS_ISSUER,
        trustDomain,
        jwksUri: `${stsUrl}/jwks`,
      })
      app.post(
        '/api/activity',
        { preHandler: requireTxnToken({ verifier, scopes: ['todos:write'] }) },
        async (request) => {
          handled++
          return { recordedFor: request.txnToken!.sub, txn: request.txnToken!.txn }
        },
      )
      servers.push(app)
      return `${await app.listen({ host: '127.0.0.1', port: 0 })}/api/activity`
    }
    const bearer = Fastify({ logger: false })
    await bearer.register(bearerAuth, { realm: 'app-b' })
    const accessVerifier = createAccessTokenVerifier({
      issuer: STS_ISSUER,
      audience: 'app-b',
      jwksUri: `${stsUrl}/jwks`,
    })
    bearer.get(
      '/api/todos',
      { preHandler: bearer.requireBearer({ verifier: accessVerifier }) },
      async () => {
        handled++
        return { todos: [] }
      },
    )
    servers.push(bearer)
    const bearerUrl = await bearer.listen({ host: '127.0.0.1', port: 0 })

    // App B, the legitimate workload: its txn tokens are what an attacker could capture.
    const appB = createTxnTokenClient({
      tokenEndpoint: `${stsUrl}/token`,
      clientId: 'app-b',
      clientSecret: TXN_SECRETS.STS_APP_B_SECRET,
      trustDomain: TRUST_DOMAIN,
    })
    const capture = async () =>
      (
        await appB.request({
          subjectToken: upstream.token(
            { aud: 'app-b', client_id: 'app-b', scope: 'todos:read todos:write' },
            { now: clock.now() },
          ),
          scope: 'todos:write',
          requestDetails: { action: 'todo.added' },
        })
      ).txnToken

    config = {
      tokenEndpoint: `${stsUrl}/token`,
      trustDomain: TRUST_DOMAIN,
      workloadUrl: await workloadFor(TRUST_DOMAIN),
      foreignWorkloadUrl: await workloadFor('other-domain.example'),
      bearerServiceUrl: `${bearerUrl}/api/todos`,
      clientId: 'app-a',
      clientSecret: TXN_SECRETS.STS_APP_A_SECRET,
      userAccessToken: upstream.token({ aud: 'app-a', client_id: 'app-a', scope: 'todos:read' }),
      victimSub: 'alice-sub',
      captured: {
        fresh: capture,
        // Issued ten minutes ago by the same service: its 60 s lifetime is long over.
        async expired() {
          clock.advance(-600)
          try {
            return await capture()
          } finally {
            clock.advance(600)
          }
        },
      },
    }
  })

  after(async () => {
    for (const server of servers.reverse()) await server.close()
    await upstream.close()
    keyDir.remove()
  })

  it('control when a captured txn token is sent where it belongs then the workload serves it', async () => {
    const token = await config.captured.fresh()
    const response = await fetch(config.workloadUrl, {
      method: 'POST',
      headers: { 'txn-token': token, 'content-type': 'application/json' },
      body: '{}',
    })
    assert.equal(response.status, 200)
  })

  it('txnAttackLab when every attempt runs then each is BLOCKED with its reason and nothing is served', async () => {
    const before = handled
    const report = await runTxnAttackLab(config)
    assert.equal(handled, before, 'no attempt reached a handler')
    assert.deepEqual(
      report.attempts.map((attempt) => attempt.id),
      TXN_ATTEMPTS.map((attempt) => attempt.id),
    )
    const byId = Object.fromEntries(report.attempts.map((attempt) => [attempt.id, attempt]))
    for (const attempt of report.attempts) {
      assert.equal(attempt.verdict, 'BLOCKED', `${attempt.id}: ${attempt.reason}`)
      assert.ok(attempt.steps.length > 0, attempt.id)
    }
    assert.match(byId['txn-wrong-workload']!.reason, /400 unauthorized_client/)
    assert.equal(byId['txn-wrong-workload']!.steps[0]!.response.body.access_token, undefined)
    assert.match(
      byId['txn-replay-expired']!.reason,
      /401 invalid_token: exp passed.*400 unauthorized_client/,
    )
    assert.match(byId['txn-replay-foreign-domain']!.reason, /401 invalid_token/)
    assert.match(byId['txn-altered-context']!.reason, /401 invalid_token/)
    assert.match(byId['txn-sent-as-bearer']!.reason, /401 invalid_token/)
    // The record never holds a raw token.
    const recorded = JSON.stringify(report)
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.eyJ/.test(recorded), 'no compact JWS in the report')
  })
})
