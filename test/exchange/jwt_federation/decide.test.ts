import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decideFederation } from '../../../src/exchange/jwt_federation/decide.js'
import { parseFederationRequest } from '../../../src/exchange/jwt_federation/parse_request.js'
import {
  ASSERTION_INVALID,
  type VerifiedAssertion,
} from '../../../src/exchange/jwt_federation/types.js'
import { findFederationTarget } from '../../../src/exchange/jwt_federation/validate_assertion.js'
import type { VerifiedToken } from '../../../src/exchange/types.js'
import { ISSUER, NOW, oauthError, policy as exchangePolicy } from '../helpers.js'
import { federationParams as params, federationPolicy } from './helpers.js'

/** A verified assertion, as the validate stage hands it on. */
function verified(overrides: Partial<VerifiedToken> = {}): VerifiedAssertion {
  const token: VerifiedToken = {
    token: {},
    sub: 'alice',
    iss: ISSUER,
    aud: ['app-a'],
    clientId: 'app-a',
    azp: undefined,
    scopes: ['todos:read'],
    exp: NOW + 60,
    jti: 'j1',
    act: undefined,
    mayAct: undefined,
    ...overrides,
  }
  return token as VerifiedAssertion
}

/** decideFederation with the stage outputs before it (the target as the authenticate stage finds it). */
function decide(input: {
  request: ReturnType<typeof parseFederationRequest>
  assertion: VerifiedAssertion
  policy: ReturnType<typeof federationPolicy>
  lifetimeSeconds: number
  now: number
}) {
  const { policy, ...rest } = input
  return decideFederation({ ...rest, target: findFederationTarget(policy, input.request) })
}

test('decideFederation when the target trusts the assertion client then same user, aud = client = target', () => {
  const request = parseFederationRequest(params('x'), exchangePolicy.limits)
  const decision = decide({
    request,
    assertion: verified(),
    policy: federationPolicy(),
    lifetimeSeconds: 600,
    now: NOW,
  })
  assert.equal(decision.sub, 'alice')
  assert.equal(decision.clientId, 'app-b')
  assert.equal(decision.assertionClientId, 'app-a')
  assert.deepEqual(decision.scopes, ['todos:read'], 'openid silently cut')
  assert.equal(decision.exp, NOW + 600, "the target's lifetime, not bounded by the assertion")
})

test('decideFederation when subject is service-account then sub = <trusted client>-<user sub>', () => {
  const request = parseFederationRequest(params('x'), exchangePolicy.limits)
  const decision = decide({
    request,
    assertion: verified(),
    policy: federationPolicy('service-account'),
    lifetimeSeconds: 600,
    now: NOW,
  })
  assert.equal(decision.sub, 'app-a-alice')
  assert.equal(decision.subjectKind, 'service-account')
})

test('decideFederation when the assertion was issued to an untrusted client then invalid_grant', () => {
  const request = parseFederationRequest(params('x'), exchangePolicy.limits)
  assert.throws(
    () =>
      decide({
        request,
        assertion: verified({ clientId: 'app-c' }),
        policy: federationPolicy(),
        lifetimeSeconds: 600,
        now: NOW,
      }),
    oauthError({
      error: 'invalid_grant',
      statusCode: 400,
      description: ASSERTION_INVALID,
      detail: 'assertion issued to app-c, not trusted by app-b',
    }),
  )
})

test('decideFederation when the target has federation off then unauthorized_client', () => {
  const request = parseFederationRequest(params('x', { client_id: 'app-a' }), exchangePolicy.limits)
  assert.throws(
    () =>
      decide({
        request,
        assertion: verified(),
        policy: federationPolicy(),
        lifetimeSeconds: 600,
        now: NOW,
      }),
    oauthError({ error: 'unauthorized_client', statusCode: 400 }),
  )
})

test('decideFederation when the assertion is delegated (act) then invalid_grant', () => {
  const request = parseFederationRequest(params('x'), exchangePolicy.limits)
  assert.throws(
    () =>
      decide({
        request,
        assertion: verified({ act: { sub: 'app-a' } }),
        policy: federationPolicy(),
        lifetimeSeconds: 600,
        now: NOW,
      }),
    oauthError({
      error: 'invalid_grant',
      statusCode: 400,
      detail: 'assertion is a delegated token',
    }),
  )
})

test('decideFederation when the assertion carries may_act then invalid_grant (no clean re-issue)', () => {
  const request = parseFederationRequest(params('x'), exchangePolicy.limits)
  assert.throws(
    () =>
      decide({
        request,
        assertion: verified({ mayAct: { sub: 'assistant' } }),
        policy: federationPolicy(),
        lifetimeSeconds: 600,
        now: NOW,
      }),
    oauthError({
      error: 'invalid_grant',
      statusCode: 400,
      detail: 'assertion carries may_act: only the party it names may act',
    }),
  )
})

test('decideFederation when the assertion azp differs from its client_id then invalid_grant', () => {
  const request = parseFederationRequest(params('x'), exchangePolicy.limits)
  assert.throws(
    () =>
      decide({
        request,
        assertion: verified({ azp: 'app-b' }),
        policy: federationPolicy(),
        lifetimeSeconds: 600,
        now: NOW,
      }),
    oauthError({
      error: 'invalid_grant',
      statusCode: 400,
      description: ASSERTION_INVALID,
      detail: 'assertion azp differs from client_id',
    }),
  )
})

test('findFederationTarget when client_id names no configured client then invalid_client 401', () => {
  const request = parseFederationRequest(params('x', { client_id: 'ghost' }), exchangePolicy.limits)
  assert.throws(
    () => findFederationTarget(federationPolicy(), request),
    oauthError({ error: 'invalid_client', statusCode: 401, detail: 'unknown client_id' }),
  )
})
