import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  isFederationRequest,
  parseFederationRequest,
} from '../../../src/exchange/jwt_federation/parse_request.js'
import { oauthError, policy as exchangePolicy } from '../helpers.js'
import { federationParams as params } from './helpers.js'

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
