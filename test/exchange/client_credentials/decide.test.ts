/**
 * The client_credentials decision point and its checks, each on its own, then the grant under the
 * audited runner: one audit event per call, and the engine never mints (oidc-provider signs).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  createClientCredentialsGrant,
  parseClientCredentialsRequest,
} from '../../../src/exchange/client_credentials/grant.js'
import {
  checkClientMayUseClientCredentials,
  decideClientCredentials,
  defaultServiceResource,
} from '../../../src/exchange/client_credentials/decide.js'
import { createClientCredentialsPolicy } from '../../../src/exchange/client_credentials/policy.js'
import type { AuthenticatedClient } from '../../../src/exchange/types.js'
import { buildRunner, clientA, clientB, oauthError, policy as exchangePolicy } from '../helpers.js'

const policy = createClientCredentialsPolicy(
  {
    'app-a': { enabled: true, allowedAudiences: ['app-b'], scopes: ['todos:read'] },
    'app-b': { enabled: true, allowedAudiences: ['app-a', 'app-c'], scopes: ['todos:read'] },
    'app-c': { enabled: false, allowedAudiences: ['app-a'], scopes: [] },
  },
  exchangePolicy.targets,
  600,
)

const decide = (params: Record<string, string | string[]>, client: AuthenticatedClient = clientA) =>
  decideClientCredentials({
    request: parseClientCredentialsRequest(params),
    client: checkClientMayUseClientCredentials(policy, client),
    policy,
  })

test('decideClientCredentials when no resource named then the single allowed audience, scope cut to the ceiling', () => {
  const decision = decide({ scope: 'todos:read todos:write' })
  assert.deepEqual(decision, {
    clientId: 'app-a',
    audience: 'app-b',
    resource: 'https://b.example/api',
    scopes: ['todos:read'],
    lifetimeSeconds: 600,
  })
  assert.ok(Object.isFrozen(decision))
})

test('decideClientCredentials when no scope requested then no scope', () => {
  assert.deepEqual(decide({}).scopes, [])
})

test('decideClientCredentials when the resource names an allowed target then that audience', () => {
  const decision = decide({ resource: 'https://c.example/api', scope: 'todos:read' }, clientB)
  assert.equal(decision.audience, 'app-c')
  assert.deepEqual(decision.scopes, ['todos:read'])
})

test('decideClientCredentials when the resource is not a configured target then invalid_target', () => {
  assert.throws(
    () => decide({ resource: 'https://evil.example/' }),
    oauthError({
      error: 'invalid_target',
      statusCode: 400,
      detail: 'resource is not a configured target',
    }),
  )
})

test('decideClientCredentials when the target is not allowed for the client then invalid_target', () => {
  assert.throws(
    () => decide({ resource: 'https://a.example/api' }),
    oauthError({
      error: 'invalid_target',
      statusCode: 400,
      detail: 'target app-a is not allowed for the client',
    }),
  )
})

test('decideClientCredentials when no resource and several allowed audiences then invalid_target', () => {
  assert.throws(
    () => decide({ scope: 'todos:read' }, clientB),
    oauthError({
      error: 'invalid_target',
      statusCode: 400,
      detail: 'no target requested and the client has no single default',
    }),
  )
})

test('parseClientCredentialsRequest when two resources then invalid_target (one per token)', () => {
  assert.throws(
    () =>
      parseClientCredentialsRequest({
        resource: ['https://b.example/api', 'https://c.example/api'],
      }),
    oauthError({ error: 'invalid_target', statusCode: 400, detail: '2 resource indicators' }),
  )
})

test('checkClientMayUseClientCredentials when the block is off or absent then unauthorized_client', () => {
  for (const clientId of ['app-c', 'stranger']) {
    assert.throws(
      () =>
        checkClientMayUseClientCredentials(policy, { clientId, authMethod: 'client_secret_basic' }),
      oauthError({
        error: 'unauthorized_client',
        statusCode: 400,
        detail: 'client_credentials is off for the client',
      }),
    )
  }
})

test('defaultServiceResource when one allowed audience then its first resource URI, else none', () => {
  assert.equal(defaultServiceResource(policy, policy.clients.get('app-a')), 'https://b.example/api')
  assert.equal(defaultServiceResource(policy, policy.clients.get('app-b')), undefined)
  assert.equal(defaultServiceResource(policy, undefined), undefined)
})

test('createClientCredentialsPolicy when an audience or a scope is not configured then TypeError naming the field', () => {
  assert.throws(
    () =>
      createClientCredentialsPolicy(
        { x: { allowedAudiences: ['ghost'] } },
        exchangePolicy.targets,
        60,
      ),
    /clients\.x\.clientCredentials\.allowedAudiences\[0\]: "ghost" is not a configured target/,
  )
  assert.throws(
    () =>
      createClientCredentialsPolicy(
        { x: { allowedAudiences: ['app-b'], scopes: ['admin'] } },
        exchangePolicy.targets,
        60,
      ),
    /clients\.x\.clientCredentials\.scopes\[0\]: "admin" is not a scope of an allowed audience/,
  )
})

test('client_credentials grant when decided then one issued audit event and the engine mints nothing', async () => {
  const { runner, audits, spy } = buildRunner()
  const grant = createClientCredentialsGrant(policy)
  const decision = await runner.run(grant, {
    params: { scope: 'todos:read', resource: 'https://b.example/api' },
    client: clientA,
  })
  assert.equal(decision.audience, 'app-b')
  assert.equal(spy.mintCalls, 0)
  assert.deepEqual(audits, [
    {
      event: 'client_credentials',
      outcome: 'issued',
      clientId: 'app-a',
      audience: 'app-b',
      scopes: ['todos:read'],
    },
  ])
})

test('client_credentials grant when refused then one refused audit event with the private reason', async () => {
  const { runner, audits, spy } = buildRunner()
  const grant = createClientCredentialsGrant(policy)
  await assert.rejects(
    runner.run(grant, { params: { resource: 'https://a.example/api' }, client: clientA }),
    oauthError({ error: 'invalid_target', statusCode: 400 }),
  )
  await assert.rejects(
    runner.run(grant, {
      params: {},
      client: { clientId: 'app-a', authMethod: 'none' as never },
    }),
    oauthError({ error: 'invalid_client', statusCode: 401 }),
  )
  assert.equal(spy.mintCalls, 0)
  assert.deepEqual(audits, [
    {
      event: 'client_credentials',
      outcome: 'refused',
      clientId: 'app-a',
      error: 'invalid_target',
      reason: 'target app-a is not allowed for the client',
    },
    {
      event: 'client_credentials',
      outcome: 'refused',
      clientId: 'app-a',
      error: 'invalid_client',
      reason: 'no authenticated confidential client',
    },
  ])
})
