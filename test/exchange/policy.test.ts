import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  clientExchangePolicySchema,
  createExchangePolicy,
  exchangeSettingsSchema,
} from '../../src/exchange/policy.js'
import { DEFAULT_REQUEST_LIMITS } from '../../src/exchange/types.js'
import { policyInput } from './helpers.js'

const typeError = (pattern: RegExp) => (err: unknown) =>
  err instanceof TypeError && pattern.test(err.message)

test('createExchangePolicy when valid then frozen policy with defaults', () => {
  const policy = createExchangePolicy(policyInput)
  assert.ok(Object.isFrozen(policy))
  assert.equal(policy.maxLifetimeSeconds, 300)
  assert.equal(policy.clockSkewSeconds, 30)
  assert.equal(policy.maxChainDepth, 4)
  assert.deepEqual(policy.limits, DEFAULT_REQUEST_LIMITS)
  assert.deepEqual(policy.targets.get('app-b'), {
    audience: 'app-b',
    resourceUris: ['https://b.example/api'],
    scopes: ['todos:read', 'todos:write'],
  })
  const client = policy.clients.get('app-a')!
  assert.equal(client.mode, 'delegation')
  assert.equal(client.maxLifetimeSeconds, 300)
  assert.deepEqual(client.serviceIdentities, ['svc-a'])
  assert.ok(Object.isFrozen(client))
  assert.equal((policy.clients as unknown as { set?: unknown }).set, undefined)
})

test('createExchangePolicy when allowedAudience is not a target then TypeError naming the field', () => {
  assert.throws(
    () =>
      createExchangePolicy({
        ...policyInput,
        clients: { 'app-a': { enabled: true, allowedAudiences: ['app-b', 'ghost'] } },
      }),
    typeError(/clients\.app-a\.allowedAudiences\[1\]: "ghost" is not a configured target/),
  )
})

test('createExchangePolicy when a resource URI names two targets then TypeError', () => {
  assert.throws(
    () =>
      createExchangePolicy({
        ...policyInput,
        targets: {
          x: { resourceUris: ['https://same.example'] },
          y: { resourceUris: ['https://same.example'] },
        },
        clients: {},
      }),
    typeError(/targets\.y\.resourceUris\[0\]/),
  )
})

test('createExchangePolicy when schema violated then TypeError naming the path', () => {
  assert.throws(
    () => createExchangePolicy({ ...policyInput, maxChainDepth: 0 }),
    typeError(/^exchange policy: maxChainDepth:/),
  )
  assert.throws(
    () =>
      createExchangePolicy({
        ...policyInput,
        targets: { t: { resourceUris: ['https://x.example/#f'] } },
      }),
    typeError(/targets\.t\.resourceUris\.0|targets\.t\.resourceUris\[0\]/),
  )
  assert.throws(
    () => createExchangePolicy({ ...policyInput, trustedIssuers: [] }),
    typeError(/trustedIssuers/),
  )
})

test('createExchangePolicy when client cap exceeds engine cap then engine cap wins', () => {
  const policy = createExchangePolicy({
    ...policyInput,
    clients: { 'app-a': { enabled: true, allowedAudiences: ['app-b'], maxLifetimeSeconds: 3600 } },
  })
  assert.equal(policy.clients.get('app-a')!.maxLifetimeSeconds, 300)
})

test('clientExchangePolicySchema when empty block then disabled by default', () => {
  assert.deepEqual(clientExchangePolicySchema.parse({}), {
    enabled: false,
    allowedAudiences: [],
    scopeCeiling: [],
    mode: 'delegation',
    serviceIdentities: [],
    requireMayAct: false,
    dpop: { required: false, boundSubjectsFrom: [], nonce: false },
  })
  assert.equal(exchangeSettingsSchema.parse({}).maxLifetimeSeconds, 300)
})
