import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildExchangeClaims } from '../../../src/exchange/token_exchange/claims.js'
import { TOKEN_TYPE } from '../../../src/exchange/types.js'
import { asExchangeDecision, ISSUER, NOW } from '../helpers.js'

const decision = asExchangeDecision({
  mode: 'delegation',
  sub: 'alice',
  audience: 'app-b',
  clientId: 'app-a',
  scopes: ['todos:read', 'todos:write'],
  act: { sub: 'app-a', iss: ISSUER },
  iat: NOW,
  exp: NOW + 300,
  issuedTokenType: TOKEN_TYPE.ACCESS_TOKEN,
  subjectJti: 's-jti',
  actorJti: undefined,
})

test('buildExchangeClaims when delegation then RFC 9068 claims with act', () => {
  assert.deepEqual(buildExchangeClaims(decision, { issuer: ISSUER, jti: 'new-jti' }), {
    iss: ISSUER,
    sub: 'alice',
    aud: 'app-b',
    client_id: 'app-a',
    azp: 'app-a',
    act: { sub: 'app-a', iss: ISSUER },
    scope: 'todos:read todos:write',
    iat: NOW,
    exp: NOW + 300,
    jti: 'new-jti',
  })
})

test('buildExchangeClaims when impersonation without chain then no act', () => {
  const claims = buildExchangeClaims(
    asExchangeDecision({ ...decision, mode: 'impersonation', act: undefined }),
    { issuer: ISSUER },
  )
  assert.equal('act' in claims, false)
})

test('buildExchangeClaims when no jti given then a fresh random one', () => {
  const a = buildExchangeClaims(decision, { issuer: ISSUER }).jti
  const b = buildExchangeClaims(decision, { issuer: ISSUER }).jti
  assert.notEqual(a, b)
  assert.match(a, /^[0-9a-f-]{36}$/)
})
