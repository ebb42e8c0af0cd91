import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ASSERTION_INVALID,
  CLIENT_ASSERTION_TYPE_JWT_BEARER,
  createFederationPolicy,
  createJwtFederation,
  decideFederation,
  isFederationRequest,
  parseFederationRequest,
  type FederationAuditEvent,
  type FederationPolicy,
} from '../../src/exchange/federation.js'
import { createJwsMinter, type TokenMinter } from '../../src/exchange/mint.js'
import type { VerifiedToken } from '../../src/exchange/types.js'
import {
  attackerSigner,
  decodeHeader,
  decodePayload,
  ISSUER,
  NOW,
  oauthError,
  policy as exchangePolicy,
  signer,
  userToken,
  verifier,
} from './helpers.js'

const targetScopes = { 'app-a': ['todos:read'], 'app-b': ['todos:read', 'todos:write'] }

function federationPolicy(subject: 'user' | 'service-account' = 'user'): FederationPolicy {
  return createFederationPolicy(
    { 'app-a': undefined, 'app-b': { enabled: true, trustedClients: ['app-a'], subject } },
    targetScopes,
  )
}

function params(assertion: string, extra: Record<string, string> = {}) {
  return {
    grant_type: 'client_credentials',
    client_id: 'app-b',
    client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
    client_assertion: assertion,
    scope: 'openid todos:read',
    ...extra,
  }
}

function build(options: { subject?: 'user' | 'service-account'; isActive?: boolean } = {}) {
  const audits: FederationAuditEvent[] = []
  let mintCalls = 0
  const real = createJwsMinter(signer)
  const minter: TokenMinter = {
    mint(claims, header, decision) {
      mintCalls++
      return real.mint(claims, header, decision)
    },
  }
  const federation = createJwtFederation({
    policy: federationPolicy(options.subject),
    exchangePolicy,
    verifier,
    subjectStatus: { isActive: async () => options.isActive ?? true },
    minter,
    audit: (event) => audits.push(event),
    lifetimeSeconds: 600,
    now: () => NOW,
  })
  return {
    federation,
    audits,
    get mintCalls() {
      return mintCalls
    },
  }
}

function verified(overrides: Partial<VerifiedToken> = {}): VerifiedToken {
  return {
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
}

test('createFederationPolicy: a client without a block is present and off', () => {
  const policy = federationPolicy()
  assert.equal(policy.get('app-a')?.enabled, false)
  assert.deepEqual(policy.get('app-b')?.scopes, ['todos:read', 'todos:write'])
})

test('createFederationPolicy when a trusted client is not configured then TypeError naming the field', () => {
  assert.throws(
    () =>
      createFederationPolicy(
        { 'app-b': { enabled: true, trustedClients: ['ghost'] } },
        targetScopes,
      ),
    /clients\.app-b\.federation\.trustedClients\[0\]: "ghost" is not a configured client/,
  )
})

test("createFederationPolicy when a scope is not the target's then TypeError naming the field", () => {
  assert.throws(
    () => createFederationPolicy({ 'app-b': { enabled: true, scopes: ['admin'] } }, targetScopes),
    /clients\.app-b\.federation\.scopes\[0\]/,
  )
})

test('isFederationRequest: only client_credentials + jwt-bearer assertion without a secret', () => {
  assert.equal(isFederationRequest(params('x')), true)
  assert.equal(isFederationRequest(params('x', { client_secret: 's' })), false)
  assert.equal(isFederationRequest(params('x', { grant_type: 'authorization_code' })), false)
  assert.equal(isFederationRequest({ grant_type: 'client_credentials', client_id: 'app-b' }), false)
})

test('parseFederationRequest when a parameter repeats then invalid_request', () => {
  assert.throws(
    () => parseFederationRequest({ ...params('x'), client_id: ['a', 'b'] }, exchangePolicy.limits),
    oauthError({ error: 'invalid_request', statusCode: 400, detail: 'client_id repeated' }),
  )
})

test('parseFederationRequest when the assertion is too long then invalid_request', () => {
  assert.throws(
    () => parseFederationRequest(params('x'.repeat(9000)), exchangePolicy.limits),
    oauthError({ error: 'invalid_request', statusCode: 400 }),
  )
})

test('decideFederation when the target trusts the assertion client then same user, aud = client = target', () => {
  const request = parseFederationRequest(params('x'), exchangePolicy.limits)
  const decision = decideFederation({
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
  const decision = decideFederation({
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
      decideFederation({
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
      decideFederation({
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
      decideFederation({
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
})

test('reissue when client_id is unknown then invalid_client 401', async () => {
  const engine = build()
  await assert.rejects(
    engine.federation.reissue(params(userToken(), { client_id: 'ghost' })),
    oauthError({ error: 'invalid_client', statusCode: 401 }),
  )
  assert.equal(engine.audits[0]!.error, 'invalid_client')
})
