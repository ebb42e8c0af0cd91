/**
 * DPoP (RFC 9449) across the RFC 8693 exchange at the embedded IdP, over real HTTP: the engine
 * verifies the proof of the token request and binds the issued token to the requester's key; a
 * DPoP-bound subject token is exchangeable only with a proof from its key, so a binding is never
 * stripped; a bound subject of another client only under an explicit policy. Every refusal is
 * checked for what must not happen too: no token in the body, an audit event without `issuedJti`.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import { createDpopKey, type DpopKey } from '../../src/client/dpop.js'
import { createLogger } from '../../src/log/logger.js'
import {
  decodeJwt,
  exchangeToken,
  loginForTokens,
  startStack,
  type LoginTokens,
  type Stack,
} from '../helpers/stack.js'

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'

/** A key whose proofs a test can shape freely (stale iat, wrong htu, …). */
async function rawKey() {
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  const full = await exportJWK(publicKey)
  const jwk: JWK = { kty: full.kty, crv: full.crv, x: full.x, y: full.y }
  const jkt = await calculateJwkThumbprint(jwk, 'sha256')
  return {
    jkt,
    proof: (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
      new SignJWT({ jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk, ...header })
        .sign(privateKey),
  }
}

interface Audit {
  event: string
  outcome: string
  error?: string
  reason?: string
  issuedJti?: string
  dpopJkt?: string
  subjectJti?: string
}

describe('DPoP across token exchange at the embedded IdP', () => {
  let stack: Stack
  let tokenEndpoint: string
  let policyDir: string
  const logLines: string[] = []
  let appAKey: DpopKey
  let bound: LoginTokens

  /** Tests run one at a time: the last exchange audited is this test's, whatever stage refused. */
  const lastAuditFor = (token: string): Audit => {
    const audits = logLines
      .map((line) => JSON.parse(line) as { audit?: Audit })
      .flatMap((entry) => (entry.audit?.event === 'token_exchange' ? [entry.audit] : []))
    assert.ok(audits.length > 0, 'an audit event was written')
    const last = audits.at(-1)!
    // Refused before the subject token was read (parse stage): no subject named yet.
    if (last.subjectJti !== undefined) {
      assert.equal(last.subjectJti, decodeJwt(token).payload.jti)
    }
    return last
  }

  function assertRefusedWithoutToken(
    response: { status: number; body: Record<string, unknown> },
    error: string,
    subjectToken: string,
  ) {
    assert.equal(response.status, 400)
    assert.equal(response.body.error, error)
    assert.equal(response.body.access_token, undefined, 'no token minted')
    const audit = lastAuditFor(subjectToken)
    assert.equal(audit.outcome, 'refused')
    assert.equal(audit.error, error)
    assert.equal(audit.issuedJti, undefined, 'the audit records no issued token')
  }

  before(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(...chunk.toString().split('\n').filter(Boolean))
        done()
      },
    })
    // The shipped policy, plus a client that may exchange app-a's bound tokens (app-c, with a
    // policy of its own) — the "other client" case, switched on explicitly.
    const policy = JSON.parse(readFileSync('config/policy.json', 'utf8'))
    policy.clients['app-b'].tokenExchange.dpop = { boundSubjectsFrom: [] }
    policyDir = mkdtempSync(join(tmpdir(), 'onbehalf-dpop-policy-'))
    writeFileSync(join(policyDir, 'policy.json'), JSON.stringify(policy))
    stack = await startStack({
      logger: createLogger({ level: 'info' }, sink),
      env: { POLICY_FILE: join(policyDir, 'policy.json') },
    })
    tokenEndpoint = `${stack.idp.issuer}/token`
    appAKey = await createDpopKey()
    // A login token bound to App A's key by oidc-provider's own DPoP support.
    bound = await loginForTokens(stack, {
      scope: 'openid todos:read activity:read',
      dpopProof: (url) => appAKey.proof({ method: 'POST', url }),
    })
  })
  after(async () => {
    await stack.close()
    rmSync(policyDir, { recursive: true, force: true })
  })

  it('loginWhenProofSentThenTheIdpBindsTheLoginToken', () => {
    assert.equal(bound.token_type, 'DPoP')
    assert.deepEqual(decodeJwt(bound.access_token).payload.cnf, { jkt: appAKey.jkt })
  })

  it('exchangeWhenProofSentThenIssuedTokenBoundToTheRequesterKeyAsDpop', async () => {
    const plain = await loginForTokens(stack)
    const key = await createDpopKey()
    const response = await exchangeToken(
      stack,
      { subject_token: plain.access_token, subject_token_type: ACCESS_TOKEN, audience: 'app-b' },
      { headers: { dpop: await key.proof({ method: 'POST', url: tokenEndpoint }) } },
    )
    assert.equal(response.status, 200, JSON.stringify(response.body))
    assert.equal(response.body.token_type, 'DPoP')
    const claims = decodeJwt(response.body.access_token).payload
    assert.deepEqual(claims.cnf, { jkt: key.jkt })
    assert.equal(claims.sub, decodeJwt(plain.access_token).payload.sub)
    const audit = lastAuditFor(plain.access_token)
    assert.equal(audit.outcome, 'issued')
    assert.equal(audit.dpopJkt, key.jkt)
    assert.equal(audit.issuedJti, claims.jti)
  })

  it('exchangeWhenNoProofAndSubjectUnboundThenBearerTokenWithoutCnf', async () => {
    const plain = await loginForTokens(stack)
    const response = await exchangeToken(stack, {
      subject_token: plain.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
    })
    assert.equal(response.status, 200)
    assert.equal(response.body.token_type, 'Bearer')
    assert.equal(decodeJwt(response.body.access_token).payload.cnf, undefined)
  })

  it('exchangeWhenSubjectBoundAndNoProofThenInvalidDpopProofAndNoToken (binding stripping)', async () => {
    const response = await exchangeToken(stack, {
      subject_token: bound.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
    })
    assertRefusedWithoutToken(response, 'invalid_dpop_proof', bound.access_token)
    assert.match(lastAuditFor(bound.access_token).reason!, /DPoP-bound and no DPoP proof/)
  })

  it('exchangeWhenSubjectBoundAndProofFromAnotherKeyThenRefused', async () => {
    const thief = await createDpopKey()
    const response = await exchangeToken(
      stack,
      { subject_token: bound.access_token, subject_token_type: ACCESS_TOKEN, audience: 'app-b' },
      { headers: { dpop: await thief.proof({ method: 'POST', url: tokenEndpoint }) } },
    )
    assertRefusedWithoutToken(response, 'invalid_dpop_proof', bound.access_token)
    assert.match(lastAuditFor(bound.access_token).reason!, /not the key the subject token/)
  })

  it('exchangeWhenSubjectBoundAndProofFromItsKeyThenIssuedTokenKeepsTheBinding', async () => {
    const response = await exchangeToken(
      stack,
      { subject_token: bound.access_token, subject_token_type: ACCESS_TOKEN, audience: 'app-b' },
      { headers: { dpop: await appAKey.proof({ method: 'POST', url: tokenEndpoint }) } },
    )
    assert.equal(response.status, 200, JSON.stringify(response.body))
    assert.equal(response.body.token_type, 'DPoP')
    assert.deepEqual(decodeJwt(response.body.access_token).payload.cnf, { jkt: appAKey.jkt })
  })

  it('exchangeWhenTheSameProofIsSentTwiceThenTheReplayIsRefused', async () => {
    const plain = await loginForTokens(stack)
    const proof = await appAKey.proof({ method: 'POST', url: tokenEndpoint })
    const params = {
      subject_token: plain.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
    }
    const first = await exchangeToken(stack, params, { headers: { dpop: proof } })
    assert.equal(first.status, 200)
    const replay = await exchangeToken(stack, params, { headers: { dpop: proof } })
    assertRefusedWithoutToken(replay, 'invalid_dpop_proof', plain.access_token)
    assert.match(lastAuditFor(plain.access_token).reason!, /\(replay\)/)
  })

  describe('proof checks (RFC 9449 §4.3)', () => {
    let plain: LoginTokens
    before(async () => {
      plain = await loginForTokens(stack)
    })
    const cases: Array<
      [string, (key: Awaited<ReturnType<typeof rawKey>>) => Promise<string[]>, RegExp]
    > = [
      [
        'htuNamesAnotherEndpoint',
        async (key) => [await key.proof({ htm: 'POST', htu: `${tokenEndpoint}/other` })],
        /\(htu\)/,
      ],
      ['htmIsGet', async (key) => [await key.proof({ htm: 'GET', htu: tokenEndpoint })], /\(htm\)/],
      [
        'iatIsTenMinutesOld',
        async (key) => [
          await key.proof({
            htm: 'POST',
            htu: tokenEndpoint,
            iat: Math.floor(Date.now() / 1000) - 600,
          }),
        ],
        /\(iat\)/,
      ],
      [
        'typIsJwt',
        async (key) => [await key.proof({ htm: 'POST', htu: tokenEndpoint }, { typ: 'JWT' })],
        /\(typ\)/,
      ],
      ['headerIsNotAJws', async () => ['not-a-proof'], /not one compact JWS/],
      [
        'twoDpopHeaders',
        async (key) => [
          await key.proof({ htm: 'POST', htu: tokenEndpoint }),
          await key.proof({ htm: 'POST', htu: tokenEndpoint }),
        ],
        /DPoP/,
      ],
    ]
    for (const [name, makeProofs, reason] of cases) {
      it(`exchangeWhen${name[0]!.toUpperCase()}${name.slice(1)}ThenInvalidDpopProofAndNoToken`, async () => {
        const key = await rawKey()
        const response = await exchangeToken(
          stack,
          {
            subject_token: plain.access_token,
            subject_token_type: ACCESS_TOKEN,
            audience: 'app-b',
          },
          { headers: { dpop: await makeProofs(key) } },
        )
        assertRefusedWithoutToken(response, 'invalid_dpop_proof', plain.access_token)
        assert.match(lastAuditFor(plain.access_token).reason!, reason)
      })
    }
  })

  describe('a bound subject token of another client', () => {
    let boundForB: string
    before(async () => {
      // App A's token for App B, bound to App A's key: App B (another client) presents it.
      const response = await exchangeToken(
        stack,
        {
          subject_token: bound.access_token,
          subject_token_type: ACCESS_TOKEN,
          audience: 'app-b',
          scope: 'todos:read activity:read',
        },
        { headers: { dpop: await appAKey.proof({ method: 'POST', url: tokenEndpoint }) } },
      )
      assert.equal(response.status, 200, JSON.stringify(response.body))
      boundForB = response.body.access_token
    })

    it('exchangeWhenAnotherClientProvesTheKeyWithoutPolicyThenRefused', async () => {
      const response = await exchangeToken(
        stack,
        { subject_token: boundForB, subject_token_type: ACCESS_TOKEN, audience: 'app-c' },
        {
          clientId: 'app-b',
          headers: { dpop: await appAKey.proof({ method: 'POST', url: tokenEndpoint }) },
        },
      )
      assertRefusedWithoutToken(response, 'invalid_request', boundForB)
      assert.match(lastAuditFor(boundForB).reason!, /boundSubjectsFrom/)
    })

    it('exchangeWhenAnotherClientSendsNoProofThenRefused', async () => {
      const response = await exchangeToken(
        stack,
        { subject_token: boundForB, subject_token_type: ACCESS_TOKEN, audience: 'app-c' },
        { clientId: 'app-b' },
      )
      assertRefusedWithoutToken(response, 'invalid_dpop_proof', boundForB)
    })
  })
})
