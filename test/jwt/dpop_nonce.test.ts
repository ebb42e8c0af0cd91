/**
 * createDpopNonces (RFC 9449 §8, §9): options validated once with the field named; nonces of the
 * current and the previous window accepted, older ones stale, another secret's or a mangled one
 * wrong; two sources sharing the secret agree. And the token endpoint refuses to start with a
 * client demanding nonces but no nonce source.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createDpopNonces } from '../../src/jwt/dpop_nonce.js'
import { createExchangePolicy } from '../../src/exchange/policy.js'
import { createTokenExchangeGrant } from '../../src/exchange/token_exchange/grant.js'
import { policyInput, verifier } from '../exchange/helpers.js'

const SECRET = 'unit-test-dpop-nonce-secret-0123456789'
const NOW = 1_700_000_000

test('createDpopNonces when secret is short or window out of range then TypeError naming the field', () => {
  assert.throws(
    () => createDpopNonces({ secret: 'short' }),
    /createDpopNonces: secret: must be at least 32/,
  )
  assert.throws(
    () => createDpopNonces({ secret: SECRET, windowSeconds: 5 }),
    /createDpopNonces: windowSeconds:/,
  )
})

test('check when nonce is of this window or the previous one then ok; older then stale', () => {
  const nonces = createDpopNonces({ secret: SECRET, windowSeconds: 60 })
  assert.equal(nonces.check(nonces.current(NOW), NOW), 'ok')
  assert.equal(nonces.check(nonces.current(NOW - 60), NOW), 'ok', 'the previous window')
  assert.equal(nonces.check(nonces.current(NOW - 120), NOW), 'stale')
  assert.equal(nonces.check(nonces.current(NOW + 120), NOW), 'stale', 'not from the future either')
})

test('check when nonce is missing, of another secret or mangled then missing or wrong', () => {
  const nonces = createDpopNonces({ secret: SECRET })
  const other = createDpopNonces({ secret: `${SECRET}-other` })
  assert.equal(nonces.check(undefined, NOW), 'missing')
  assert.equal(nonces.check(other.current(NOW), NOW), 'wrong')
  const good = nonces.current(NOW)
  assert.equal(nonces.check(`${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`, NOW), 'wrong')
  assert.equal(nonces.check(42, NOW), 'wrong')
  assert.equal(nonces.check('not-a-nonce', NOW), 'wrong')
})

test('check when another instance shares the secret then its nonces are accepted', () => {
  const one = createDpopNonces({ secret: SECRET })
  const two = createDpopNonces({ secret: SECRET })
  assert.equal(two.check(one.current(NOW), NOW + 1), 'ok')
})

test('createTokenExchangeGrant when a client demands nonces and no nonce source then TypeError naming it', () => {
  const input = structuredClone(policyInput)
  input.clients['app-a'] = { ...input.clients['app-a'], dpop: { nonce: true } }
  const policy = createExchangePolicy(input)
  const subjectStatus = { isActive: async () => true }
  assert.throws(
    () => createTokenExchangeGrant({ policy, verifier, subjectStatus }),
    /clients\.app-a\.tokenExchange\.dpop\.nonce needs dpop\.nonces/,
  )
  assert.doesNotThrow(() =>
    createTokenExchangeGrant({
      policy,
      verifier,
      subjectStatus,
      dpop: { nonces: createDpopNonces({ secret: SECRET }) },
    }),
  )
})
