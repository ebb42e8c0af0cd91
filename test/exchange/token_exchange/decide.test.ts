/**
 * The RFC 8693 decision point: `decideExchange` over verified inputs, then each of its checks on
 * its own (Spring's `…When…Then…` names, asserting `error`, `statusCode` and `detail`).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  buildDelegationChain,
  chainDepth,
  checkChainCycles,
  checkChainDepth,
  checkClientMayExchange,
  checkSubjectAddressedTo,
  checkTargetAllowed,
  decideExchange,
  decideExpiry,
  decideScopes,
  resolveTarget,
  type DecideInput,
} from '../../../src/exchange/token_exchange/decide.js'
import { createExchangePolicy, type ExchangePolicy } from '../../../src/exchange/policy.js'
import {
  GRANT_TYPE_TOKEN_EXCHANGE,
  type ExchangeRequest,
} from '../../../src/exchange/token_exchange/types.js'
import {
  TOKEN_TYPE,
  type ActClaim,
  type AuthenticatedClient,
  type VerifiedToken,
} from '../../../src/exchange/types.js'
import {
  asExchangeRequest,
  asVerifiedActor,
  asVerifiedSubject,
  clientA,
  clientB,
  ISSUER,
  NOW,
  oauthError,
  policy,
  policyInput,
  type Unbranded,
} from '../helpers.js'

function subject(overrides: Partial<VerifiedToken> = {}): VerifiedToken {
  return {
    token: {},
    sub: 'alice',
    iss: ISSUER,
    aud: ['app-a'],
    clientId: 'app-a',
    azp: undefined,
    scopes: ['openid', 'todos:read', 'todos:write'],
    exp: NOW + 3600,
    jti: 'subject-jti',
    act: undefined,
    mayAct: undefined,
    ...overrides,
  }
}

function request(overrides: Partial<Unbranded<ExchangeRequest>> = {}): ExchangeRequest {
  return asExchangeRequest({
    grantType: GRANT_TYPE_TOKEN_EXCHANGE,
    resources: [],
    audiences: ['app-b'],
    scopes: undefined,
    requestedTokenType: TOKEN_TYPE.ACCESS_TOKEN,
    subjectToken: 'not-used',
    subjectTokenType: TOKEN_TYPE.ACCESS_TOKEN,
    actorToken: undefined,
    actorTokenType: undefined,
    ...overrides,
  })
}

interface DecideOverrides {
  readonly request?: ExchangeRequest
  readonly client?: AuthenticatedClient
  readonly subject?: VerifiedToken
  readonly actor?: VerifiedToken
  readonly policy?: ExchangePolicy
}

/** decideExchange with the stage outputs before it: the client as the authenticate stage passes it. */
const decide = (overrides: DecideOverrides = {}) => {
  const chosen = overrides.policy ?? policy
  const input: DecideInput = {
    request: overrides.request ?? request(),
    client: checkClientMayExchange(chosen, overrides.client ?? clientA),
    subject: asVerifiedSubject(overrides.subject ?? subject()),
    actor: overrides.actor === undefined ? undefined : asVerifiedActor(overrides.actor),
    policy: chosen,
    now: NOW,
  }
  return decideExchange(input)
}

const chain = (...subs: string[]): ActClaim | undefined =>
  subs.reduceRight<ActClaim | undefined>(
    (inner, sub) => (inner ? { sub, act: inner } : { sub }),
    undefined,
  )

const clientPolicyOf = (clientId: string) => policy.clients.get(clientId)!

test('decideExchange when all checks pass then frozen delegation decision', () => {
  const decision = decide()
  assert.ok(Object.isFrozen(decision))
  assert.deepEqual(decision, {
    mode: 'delegation',
    sub: 'alice',
    audience: 'app-b',
    clientId: 'app-a',
    scopes: ['todos:read'],
    act: { sub: 'app-a', iss: ISSUER },
    iat: NOW,
    exp: NOW + 300,
    issuedTokenType: TOKEN_TYPE.ACCESS_TOKEN,
    subjectJti: 'subject-jti',
    actorJti: undefined,
    jkt: undefined,
  })
})

test('checkClientMayExchange when client has no exchange policy then unauthorized_client', () => {
  assert.throws(
    () =>
      checkClientMayExchange(policy, { clientId: 'stranger', authMethod: 'client_secret_post' }),
    oauthError({
      error: 'unauthorized_client',
      statusCode: 400,
      detail: 'client has no token exchange policy',
    }),
  )
})

test('checkClientMayExchange when client not enabled then unauthorized_client', () => {
  assert.throws(
    () => checkClientMayExchange(policy, { clientId: 'app-c', authMethod: 'client_secret_basic' }),
    oauthError({
      error: 'unauthorized_client',
      statusCode: 400,
      detail: 'token exchange is disabled for the client',
    }),
  )
})

test('decideExchange when subject not addressed to requester then invalid_request (S2)', () => {
  assert.throws(
    () => decide({ subject: subject({ aud: ['app-b'], clientId: 'app-b' }) }),
    oauthError({
      error: 'invalid_request',
      statusCode: 400,
      description: 'subject_token is invalid',
      detail: 'subject token is not addressed to the requesting client',
    }),
  )
})

test('decideExchange when subject azp or client_id is the requester then addressed', () => {
  assert.equal(
    decide({ subject: subject({ aud: ['api'], clientId: 'other', azp: 'app-a' }) }).sub,
    'alice',
  )
  assert.equal(decide({ subject: subject({ aud: ['api'], clientId: 'app-a' }) }).sub, 'alice')
})

test('decideExchange when target not in allowedAudiences then invalid_target (S1)', () => {
  assert.throws(
    () => decide({ request: request({ audiences: ['app-c'] }) }),
    oauthError({
      error: 'invalid_target',
      statusCode: 400,
      description: 'requested target is not allowed',
      detail: 'target app-c is not allowed for the client',
    }),
  )
})

test('decideExchange when audience unknown then invalid_target with the same description', () => {
  assert.throws(
    () => decide({ request: request({ audiences: ['nowhere'] }) }),
    oauthError({
      error: 'invalid_target',
      statusCode: 400,
      description: 'requested target is not allowed',
      detail: 'audience is not a configured target',
    }),
  )
})

test('decideExchange when resource unknown then invalid_target', () => {
  assert.throws(
    () => decide({ request: request({ audiences: [], resources: ['https://evil.example/'] }) }),
    oauthError({
      error: 'invalid_target',
      statusCode: 400,
      detail: 'resource is not a configured target',
    }),
  )
})

test('decideExchange when resource names an allowed target then it is the audience', () => {
  const decision = decide({
    request: request({ audiences: [], resources: ['https://b.example/api'] }),
  })
  assert.equal(decision.audience, 'app-b')
  const same = decide({
    request: request({ audiences: ['app-b'], resources: ['https://b.example/api'] }),
  })
  assert.equal(same.audience, 'app-b')
})

test('decideExchange when two targets then invalid_target', () => {
  assert.throws(
    () =>
      decide({
        client: clientB,
        subject: subject({ aud: ['app-b'] }),
        request: request({ audiences: ['app-a', 'app-c'] }),
      }),
    oauthError({ error: 'invalid_target', statusCode: 400, detail: 'request names 2 targets' }),
  )
  assert.throws(
    () =>
      decide({
        client: clientB,
        subject: subject({ aud: ['app-b'] }),
        request: request({ audiences: ['app-a'], resources: ['https://c.example/api'] }),
      }),
    oauthError({ error: 'invalid_target', statusCode: 400, detail: 'request names 2 targets' }),
  )
})

test('decideExchange when no target requested and one allowed audience then that one', () => {
  assert.equal(decide({ request: request({ audiences: [] }) }).audience, 'app-b')
})

test('decideExchange when no target requested and several allowed then invalid_target', () => {
  assert.throws(
    () =>
      decide({
        client: clientB,
        subject: subject({ aud: ['app-b'] }),
        request: request({ audiences: [] }),
      }),
    oauthError({ error: 'invalid_target', statusCode: 400, detail: /no single default/ }),
  )
})

test('decideExchange when scope widens beyond the subject then invalid_scope (S15)', () => {
  assert.throws(
    () =>
      decide({
        subject: subject({ scopes: ['openid'] }),
        request: request({ scopes: ['todos:read'] }),
      }),
    oauthError({
      error: 'invalid_scope',
      statusCode: 400,
      detail: 'scope todos:read is not granted by the subject token',
    }),
  )
})

test('decideExchange when scope exceeds client ceiling then invalid_scope', () => {
  assert.throws(
    () => decide({ request: request({ scopes: ['todos:write'] }) }),
    oauthError({
      error: 'invalid_scope',
      statusCode: 400,
      detail: "scope todos:write exceeds the client's scope ceiling",
    }),
  )
})

test('decideExchange when scope not offered by target then invalid_scope', () => {
  const wide = createExchangePolicy({
    ...policyInput,
    clients: {
      ...policyInput.clients,
      'app-a': {
        enabled: true,
        allowedAudiences: ['app-b'],
        scopeCeiling: ['todos:read', 'openid'],
      },
    },
  })
  assert.throws(
    () => decide({ policy: wide, request: request({ scopes: ['openid'] }) }),
    oauthError({
      error: 'invalid_scope',
      statusCode: 400,
      detail: 'scope openid is not offered by the target',
    }),
  )
})

test('decideExchange when no scope requested and intersection empty then invalid_scope', () => {
  assert.throws(
    () => decide({ subject: subject({ scopes: ['openid'] }) }),
    oauthError({
      error: 'invalid_scope',
      statusCode: 400,
      detail: 'subject, client ceiling and target share no scope',
    }),
  )
})

test('decideExchange when requested scope within all ceilings then granted as requested', () => {
  assert.deepEqual(
    decide({
      client: clientB,
      subject: subject({ aud: ['app-b'] }),
      request: request({ audiences: ['app-c'], scopes: ['todos:write'] }),
    }).scopes,
    ['todos:write'],
  )
})

test('decideExchange when subject already delegated then chain is extended, not dropped (S18)', () => {
  const decision = decide({
    client: clientB,
    subject: subject({ aud: ['app-b'], clientId: 'app-a', act: { sub: 'app-a', iss: ISSUER } }),
    request: request({ audiences: ['app-c'] }),
  })
  assert.deepEqual(decision.act, { sub: 'app-b', iss: ISSUER, act: { sub: 'app-a', iss: ISSUER } })
})

test('decideExchange when impersonation then no new actor and existing chain kept', () => {
  const imp = { clientId: 'app-imp', authMethod: 'client_secret_basic' } as const
  const plain = decide({ client: imp, subject: subject({ aud: ['app-imp'] }) })
  assert.equal(plain.mode, 'impersonation')
  assert.equal(plain.act, undefined)
  const delegated = decide({
    client: imp,
    subject: subject({ aud: ['app-imp'], act: { sub: 'app-x' } }),
  })
  assert.deepEqual(delegated.act, { sub: 'app-x' })
})

test('decideExchange when resulting chain deeper than maxChainDepth then invalid_request (S14)', () => {
  assert.equal(
    decide({ subject: subject({ act: chain('p1', 'p2', 'p3') }) }).act?.act?.act?.act?.sub,
    'p3',
  )
  assert.throws(
    () => decide({ subject: subject({ act: chain('p1', 'p2', 'p3', 'p4') }) }),
    oauthError({
      error: 'invalid_request',
      statusCode: 400,
      description: 'subject_token is invalid',
      detail: 'actor chain depth 5 exceeds 4',
    }),
  )
})

test('decideExchange when requester already in the chain then invalid_request (cycle)', () => {
  assert.throws(
    () => decide({ subject: subject({ act: chain('app-b', 'app-a') }) }),
    oauthError({
      error: 'invalid_request',
      statusCode: 400,
      detail: 'actor chain has a cycle: app-a appears twice',
    }),
  )
})

test('decideExchange when subject chain repeats a party then invalid_request (cycle)', () => {
  const imp = { clientId: 'app-imp', authMethod: 'client_secret_basic' } as const
  assert.throws(
    () =>
      decide({ client: imp, subject: subject({ aud: ['app-imp'], act: chain('x', 'y', 'x') }) }),
    oauthError({
      error: 'invalid_request',
      statusCode: 400,
      detail: 'actor chain has a cycle: x appears twice',
    }),
  )
})

test('decideExchange when subject expires sooner than the cap then exp is the subject exp (S17)', () => {
  assert.equal(decide({ subject: subject({ exp: NOW + 42 }) }).exp, NOW + 42)
})

test('decideExchange when actor expires sooner then exp is the actor exp', () => {
  const actor = subject({ sub: 'app-a', exp: NOW + 17, jti: 'actor-jti' })
  const decision = decide({ actor })
  assert.equal(decision.exp, NOW + 17)
  assert.equal(decision.actorJti, 'actor-jti')
})

test('decideExchange when client lifetime is shorter then it caps exp', () => {
  const short = createExchangePolicy({
    ...policyInput,
    clients: {
      ...policyInput.clients,
      'app-a': {
        enabled: true,
        allowedAudiences: ['app-b'],
        scopeCeiling: ['todos:read'],
        maxLifetimeSeconds: 60,
      },
    },
  })
  assert.equal(decide({ policy: short }).exp, NOW + 60)
})

test('decideExchange when no lifetime is left then invalid_request', () => {
  assert.throws(
    () => decide({ subject: subject({ exp: NOW }) }),
    oauthError({ error: 'invalid_request', statusCode: 400, detail: /no lifetime left/ }),
  )
})

test('decideExchange when jwt requested then issuedTokenType is jwt', () => {
  assert.equal(
    decide({ request: request({ requestedTokenType: TOKEN_TYPE.JWT }) }).issuedTokenType,
    TOKEN_TYPE.JWT,
  )
})

// Each check of decide.ts on its own.

test('checkClientMayExchange when the policy is on then the client with its own policy', () => {
  const client = checkClientMayExchange(policy, clientA)
  assert.equal(client.clientId, 'app-a')
  assert.equal(client.authMethod, 'client_secret_basic')
  assert.equal(client.policy, clientPolicyOf('app-a'))
  assert.ok(Object.isFrozen(client))
})

test('checkSubjectAddressedTo when aud, azp or client_id names the requester then it passes (S2)', () => {
  const token = { aud: ['api'], azp: undefined, clientId: 'other' }
  checkSubjectAddressedTo({ ...token, aud: ['app-a'] }, 'app-a')
  checkSubjectAddressedTo({ ...token, azp: 'app-a' }, 'app-a')
  checkSubjectAddressedTo({ ...token, clientId: 'app-a' }, 'app-a')
  checkSubjectAddressedTo(token, ['upstream-x', 'other'])
})

test('checkSubjectAddressedTo when nothing names the requester then invalid_request (S2)', () => {
  assert.throws(
    () => checkSubjectAddressedTo({ aud: ['app-b'], azp: 'app-b', clientId: 'app-b' }, 'app-a'),
    oauthError({
      error: 'invalid_request',
      statusCode: 400,
      description: 'subject_token is invalid',
      detail: 'subject token is not addressed to the requesting client',
    }),
  )
})

test('resolveTarget when an audience names a target then that target', () => {
  const target = resolveTarget(
    { audiences: ['app-c'], resources: [] },
    policy,
    clientPolicyOf('app-a'),
  )
  assert.equal(target.audience, 'app-c')
})

test('resolveTarget when audience and resource name the same target then that target', () => {
  const target = resolveTarget(
    { audiences: ['app-b'], resources: ['https://b.example/api'] },
    policy,
    clientPolicyOf('app-a'),
  )
  assert.equal(target.audience, 'app-b')
})

test('resolveTarget when the audience is unknown then invalid_target', () => {
  assert.throws(
    () => resolveTarget({ audiences: ['nowhere'], resources: [] }, policy, clientPolicyOf('app-a')),
    oauthError({
      error: 'invalid_target',
      statusCode: 400,
      description: 'requested target is not allowed',
      detail: 'audience is not a configured target',
    }),
  )
})

test('resolveTarget when the resource is unknown then invalid_target', () => {
  assert.throws(
    () =>
      resolveTarget(
        { audiences: [], resources: ['https://evil.example/'] },
        policy,
        clientPolicyOf('app-a'),
      ),
    oauthError({
      error: 'invalid_target',
      statusCode: 400,
      description: 'requested target is not allowed',
      detail: 'resource is not a configured target',
    }),
  )
})

test('resolveTarget when two targets are named then invalid_target', () => {
  assert.throws(
    () =>
      resolveTarget(
        { audiences: ['app-a'], resources: ['https://c.example/api'] },
        policy,
        clientPolicyOf('app-b'),
      ),
    oauthError({
      error: 'invalid_target',
      statusCode: 400,
      description: 'requested target is not allowed',
      detail: 'request names 2 targets',
    }),
  )
})

test('resolveTarget when none is named and the client has one allowed audience then that one', () => {
  const target = resolveTarget({ audiences: [], resources: [] }, policy, clientPolicyOf('app-a'))
  assert.equal(target.audience, 'app-b')
})

test('resolveTarget when none is named and the client has several then invalid_target', () => {
  assert.throws(
    () => resolveTarget({ audiences: [], resources: [] }, policy, clientPolicyOf('app-b')),
    oauthError({
      error: 'invalid_target',
      statusCode: 400,
      description: 'requested target is not allowed',
      detail: 'no target requested and the client has no single default',
    }),
  )
})

test('checkTargetAllowed when the client policy lists the target then it passes (S1)', () => {
  checkTargetAllowed(policy.targets.get('app-b')!, clientPolicyOf('app-a'))
})

test('checkTargetAllowed when the client policy does not list it then invalid_target (S1)', () => {
  assert.throws(
    () => checkTargetAllowed(policy.targets.get('app-c')!, clientPolicyOf('app-a')),
    oauthError({
      error: 'invalid_target',
      statusCode: 400,
      description: 'requested target is not allowed',
      detail: 'target app-c is not allowed for the client',
    }),
  )
})

test('decideScopes when nothing requested then subject ∩ ceiling ∩ target, once each (S15)', () => {
  assert.deepEqual(
    decideScopes(undefined, ['openid', 'b', 'a', 'b'], ['a', 'b', 'c'], ['b', 'a']),
    ['b', 'a'],
  )
})

test('decideScopes when nothing requested and the intersection is empty then invalid_scope', () => {
  assert.throws(
    () => decideScopes(undefined, ['openid'], ['todos:read'], ['todos:read']),
    oauthError({
      error: 'invalid_scope',
      statusCode: 400,
      description: 'requested scope is not allowed',
      detail: 'subject, client ceiling and target share no scope',
    }),
  )
})

test('decideScopes when a requested scope is not in the subject then invalid_scope (S15)', () => {
  assert.throws(
    () => decideScopes(['a', 'x'], ['a'], ['a', 'x'], ['a', 'x']),
    oauthError({
      error: 'invalid_scope',
      statusCode: 400,
      detail: 'scope x is not granted by the subject token',
    }),
  )
})

test('decideScopes when a requested scope exceeds the client ceiling then invalid_scope', () => {
  assert.throws(
    () => decideScopes(['x'], ['x'], ['a'], ['x']),
    oauthError({
      error: 'invalid_scope',
      statusCode: 400,
      detail: "scope x exceeds the client's scope ceiling",
    }),
  )
})

test('decideScopes when a requested scope is not offered by the target then invalid_scope', () => {
  assert.throws(
    () => decideScopes(['x'], ['x'], ['x'], ['a']),
    oauthError({
      error: 'invalid_scope',
      statusCode: 400,
      detail: 'scope x is not offered by the target',
    }),
  )
})

test('decideScopes when requested scopes are within every bound then exactly those', () => {
  assert.deepEqual(decideScopes(['b'], ['a', 'b'], ['a', 'b'], ['a', 'b']), ['b'])
})

test('buildDelegationChain when a prior chain exists then the current actor is outermost (S18)', () => {
  const built = buildDelegationChain({ sub: 'app-b', iss: ISSUER }, { sub: 'app-a', iss: ISSUER })
  assert.deepEqual(built, { sub: 'app-b', iss: ISSUER, act: { sub: 'app-a', iss: ISSUER } })
  assert.ok(Object.isFrozen(built))
  assert.deepEqual(buildDelegationChain({ sub: 'app-a', iss: ISSUER }, undefined), {
    sub: 'app-a',
    iss: ISSUER,
  })
})

test('chainDepth when nested act levels then counts each level', () => {
  assert.equal(chainDepth(undefined), 0)
  assert.equal(chainDepth(chain('a')), 1)
  assert.equal(chainDepth(chain('a', 'b', 'c')), 3)
})

test('checkChainDepth when at the cap then it passes', () => {
  checkChainDepth(chain('a', 'b', 'c', 'd'), 4)
  checkChainDepth(undefined, 1)
})

test('checkChainDepth when deeper than the cap then invalid_request (S14)', () => {
  assert.throws(
    () => checkChainDepth(chain('a', 'b', 'c'), 2),
    oauthError({
      error: 'invalid_request',
      statusCode: 400,
      description: 'subject_token is invalid',
      detail: 'actor chain depth 3 exceeds 2',
    }),
  )
})

test('checkChainCycles when every party appears once then it passes', () => {
  checkChainCycles(chain('a', 'b', 'c'))
  checkChainCycles(undefined)
})

test('checkChainCycles when a party appears twice then invalid_request (S14)', () => {
  assert.throws(
    () => checkChainCycles(chain('a', 'b', 'a')),
    oauthError({
      error: 'invalid_request',
      statusCode: 400,
      description: 'subject_token is invalid',
      detail: 'actor chain has a cycle: a appears twice',
    }),
  )
})

test('decideExpiry when every bound is later than the caps then the shortest cap (S17)', () => {
  assert.equal(
    decideExpiry({
      subjectExp: NOW + 900,
      actorExp: undefined,
      lifetimeCaps: [600, 300],
      now: NOW,
    }),
    NOW + 300,
  )
})

test('decideExpiry when the subject or actor expires first then their exp, whole seconds', () => {
  const input = { actorExp: undefined, lifetimeCaps: [300], now: NOW }
  assert.equal(decideExpiry({ ...input, subjectExp: NOW + 42.9 }), NOW + 42)
  assert.equal(decideExpiry({ ...input, subjectExp: NOW + 90, actorExp: NOW + 17 }), NOW + 17)
})

test('decideExpiry when no lifetime is left then invalid_request', () => {
  assert.throws(
    () => decideExpiry({ subjectExp: NOW, actorExp: undefined, lifetimeCaps: [300], now: NOW }),
    oauthError({
      error: 'invalid_request',
      statusCode: 400,
      description: 'subject_token is invalid',
      detail: 'no lifetime left: subject or actor token expires now',
    }),
  )
})
