import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createIdentityPolicy, isServiceOwnToken } from '../../src/resource/identity_policy.js'
import { ResourceAuthError } from '../../src/resource/errors.js'
import type { VerifiedAccessToken } from '../../src/resource/verifier.js'

function token(overrides: Partial<VerifiedAccessToken> = {}): VerifiedAccessToken {
  return {
    sub: 'app-a',
    clientId: 'app-a',
    azp: 'app-a',
    caller: 'app-a',
    actorChain: [],
    scopes: ['todos:read'],
    jti: 'j',
    exp: 0,
    claims: {},
    ...overrides,
  }
}
const delegated = token({ sub: 'bob', caller: 'app-a', actorChain: ['app-a'] })
const decide = createIdentityPolicy({ trustedHeaderCallers: ['app-a'] })

test('without a header the token decides', () => {
  assert.deepEqual(decide(delegated, undefined), { user: 'bob', decidedBy: 'token' })
})

test("trusted-header: the named service's own token lets the header name the user", () => {
  assert.deepEqual(decide(token(), 'alice'), { user: 'alice', decidedBy: 'trusted-header' })
  assert.equal(isServiceOwnToken(token(), 'app-a'), true)
})

test('an RFC 8693 token (user sub, act) ignores the header and says so', () => {
  const decision = decide(delegated, 'alice')
  assert.equal(decision.user, 'bob')
  assert.equal(decision.decidedBy, 'token')
  assert.match(decision.headerIgnored ?? '', /delegated \(act app-a\)/)
})

test('a caller not named in trustedHeaderCallers never gets the header honoured', () => {
  const decision = createIdentityPolicy({ trustedHeaderCallers: [] })(token(), 'alice')
  assert.equal(decision.user, 'app-a')
  assert.match(decision.headerIgnored ?? '', /not a trusted-header caller/)
})

test('a user token of the trusted caller (no act) is not the service token: header ignored', () => {
  const decision = decide(token({ sub: 'bob' }), 'alice')
  assert.equal(decision.user, 'bob')
  assert.match(decision.headerIgnored ?? '', /names its user \(sub bob\)/)
})

test('a repeated or malformed header is invalid_request', () => {
  assert.throws(() => decide(token(), ['a', 'b']), ResourceAuthError)
  assert.throws(() => decide(token(), 'has space'), ResourceAuthError)
})
