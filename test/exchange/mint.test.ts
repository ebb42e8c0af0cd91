import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ACCESS_TOKEN_HEADER,
  buildAccessTokenClaims,
  createJwsMinter,
} from '../../src/exchange/mint.js'
import { TOKEN_TYPE, type ExchangeDecision } from '../../src/exchange/types.js'
import { decodeHeader, decodePayload, ISSUER, NOW, signer, verifier } from './helpers.js'

const decision: ExchangeDecision = Object.freeze({
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

test('buildAccessTokenClaims when delegation then RFC 9068 claims with act', () => {
  assert.deepEqual(buildAccessTokenClaims(decision, { issuer: ISSUER, jti: 'new-jti' }), {
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

test('buildAccessTokenClaims when impersonation without chain then no act', () => {
  const claims = buildAccessTokenClaims(
    { ...decision, mode: 'impersonation', act: undefined },
    { issuer: ISSUER },
  )
  assert.equal('act' in claims, false)
})

test('buildAccessTokenClaims when no jti given then a fresh random one', () => {
  const a = buildAccessTokenClaims(decision, { issuer: ISSUER }).jti
  const b = buildAccessTokenClaims(decision, { issuer: ISSUER }).jti
  assert.notEqual(a, b)
  assert.match(a, /^[0-9a-f-]{36}$/)
})

test('createJwsMinter when minting then at+jwt signed by the signer kid', async () => {
  const claims = buildAccessTokenClaims(decision, { issuer: ISSUER })
  const token = await createJwsMinter(signer).mint(claims, ACCESS_TOKEN_HEADER, decision)
  assert.deepEqual(decodeHeader(token), { typ: 'at+jwt', alg: 'ES256', kid: 'k1' })
  assert.deepEqual(decodePayload(token), claims)
  await verifier.verify(token)
})
