import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createFederationPolicy } from '../../../src/exchange/jwt_federation/policy.js'
import { federationPolicy, targetScopes } from './helpers.js'

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
