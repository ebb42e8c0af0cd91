/**
 * The JWT federation grant end to end under the audited runner: one audit event per call, and the
 * minter never called when the request is refused.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { JwtFederationAuditEvent } from '../../../src/exchange/audit.js'
import { createJwtFederationGrant } from '../../../src/exchange/jwt_federation/grant.js'
import { ASSERTION_INVALID } from '../../../src/exchange/jwt_federation/types.js'
import type { FederationParams } from '../../../src/exchange/jwt_federation/types.js'
import {
  attackerSigner,
  buildRunner,
  decodeHeader,
  decodePayload,
  ISSUER,
  NOW,
  oauthError,
  policy as exchangePolicy,
  userToken,
  verifier,
} from '../helpers.js'
import { federationParams as params, federationPolicy } from './helpers.js'

function build(options: { subject?: 'user' | 'service-account'; isActive?: boolean } = {}) {
  const { runner, audits, spy } = buildRunner()
  const grant = createJwtFederationGrant({
    policy: federationPolicy(options.subject),
    exchangePolicy,
    verifier,
    subjectStatus: { isActive: async () => options.isActive ?? true },
    lifetimeSeconds: 600,
  })
  return {
    federation: { reissue: (form: FederationParams) => runner.run(grant, form) },
    audits: audits as JwtFederationAuditEvent[],
    spy,
    get mintCalls() {
      return spy.mintCalls
    },
  }
}

test('reissue: a user token for app-a becomes an app-b token for the same user, no act, one audit event', async () => {
  const engine = build()
  const response = await engine.federation.reissue(params(userToken()))
  const claims = decodePayload(response.access_token)
  assert.equal(decodeHeader(response.access_token).typ, 'at+jwt')
  assert.equal(claims.sub, 'alice')
  assert.equal(claims.aud, 'app-b')
  assert.equal(claims.azp, 'app-b')
  assert.equal(claims.client_id, 'app-b')
  assert.equal(claims.act, undefined)
  assert.equal(claims.iss, ISSUER)
  assert.deepEqual(Object.keys(response).sort(), [
    'access_token',
    'expires_in',
    'scope',
    'token_type',
  ])
  assert.equal(engine.audits.length, 1)
  assert.equal(engine.audits[0]!.outcome, 'issued')
  assert.equal(engine.audits[0]!.assertionClientId, 'app-a')
  assert.ok(!JSON.stringify(engine.audits).includes(response.access_token.split('.')[2]!))
})

test('reissue when the assertion is signed by another key then invalid_grant and nothing minted', async () => {
  const engine = build()
  const forged = attackerSigner.sign({ typ: 'at+jwt' }, decodePayload(userToken()))
  await assert.rejects(
    engine.federation.reissue(params(forged)),
    oauthError({
      error: 'invalid_grant',
      statusCode: 400,
      description: ASSERTION_INVALID,
      detail: /assertion: subject token failed JWS verification/,
    }),
  )
  assert.equal(engine.mintCalls, 0)
  assert.equal(engine.audits.length, 1)
  assert.equal(engine.audits[0]!.outcome, 'refused')
  assert.equal(engine.audits[0]!.error, 'invalid_grant')
})

test('reissue when the assertion is no longer live then invalid_grant', async () => {
  const engine = build({ isActive: false })
  await assert.rejects(
    engine.federation.reissue(params(userToken())),
    oauthError({ error: 'invalid_grant', statusCode: 400, detail: /not active/ }),
  )
  assert.equal(engine.mintCalls, 0)
})

test('reissue when the assertion is expired then invalid_grant', async () => {
  const engine = build()
  await assert.rejects(
    engine.federation.reissue(params(userToken({ exp: NOW - 600, iat: NOW - 1200 }))),
    oauthError({ error: 'invalid_grant', statusCode: 400 }),
  )
  assert.equal(engine.mintCalls, 0)
  assert.equal(engine.audits.length, 1)
})

test('reissue when client_id is unknown then invalid_client 401', async () => {
  const engine = build()
  await assert.rejects(
    engine.federation.reissue(params(userToken(), { client_id: 'ghost' })),
    oauthError({ error: 'invalid_client', statusCode: 401 }),
  )
  assert.equal(engine.audits[0]!.error, 'invalid_client')
  assert.equal(engine.mintCalls, 0)
  assert.equal(engine.audits.length, 1)
})

test('reissue when the target has federation off then unauthorized_client and nothing minted', async () => {
  const engine = build()
  await assert.rejects(
    engine.federation.reissue(params(userToken(), { client_id: 'app-a' })),
    oauthError({
      error: 'unauthorized_client',
      statusCode: 400,
      detail: 'federation is disabled for the client',
    }),
  )
  assert.equal(engine.mintCalls, 0)
  assert.deepEqual(
    engine.audits.map((event) => [event.event, event.outcome, event.clientId, event.subjectSub]),
    [['jwt_federation', 'refused', 'app-a', 'alice']],
  )
})

test('reissue when a parameter repeats then invalid_request, nothing minted, one audit event', async () => {
  const engine = build()
  await assert.rejects(
    engine.federation.reissue({ ...params(userToken()), scope: ['a', 'b'] }),
    oauthError({ error: 'invalid_request', statusCode: 400, detail: 'scope repeated' }),
  )
  assert.equal(engine.mintCalls, 0)
  assert.equal(engine.audits.length, 1)
})

test('reissue when issued then the minter gets the federation claims, tied to the assertion', async () => {
  const engine = build()
  const assertion = userToken({ jti: 'assertion-jti' })
  const response = await engine.federation.reissue(params(assertion))
  assert.equal(engine.mintCalls, 1)
  const [request] = engine.spy.requests
  assert.equal(request!.derivedFromJti, 'assertion-jti')
  assert.deepEqual(decodePayload(response.access_token), request!.claims)
  assert.deepEqual(engine.audits, [
    {
      event: 'jwt_federation',
      outcome: 'issued',
      clientId: 'app-b',
      subjectSub: 'alice',
      assertionJti: 'assertion-jti',
      assertionClientId: 'app-a',
      issuedSub: 'alice',
      scopes: ['todos:read'],
      issuedJti: request!.claims.jti,
    },
  ])
})
