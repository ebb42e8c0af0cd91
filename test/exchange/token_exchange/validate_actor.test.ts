import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseExchangeRequest } from '../../../src/exchange/token_exchange/parse_request.js'
import {
  DEFAULT_REQUEST_LIMITS,
  TOKEN_TYPE,
  type AuthenticatedClient,
} from '../../../src/exchange/types.js'
import { checkClientMayExchange } from '../../../src/exchange/token_exchange/decide.js'
import { validateActorToken } from '../../../src/exchange/token_exchange/validate_actor.js'
import { validateSubjectToken } from '../../../src/exchange/token_exchange/validate_subject.js'
import {
  clientA,
  clientToken,
  exchangeParams,
  ISSUER,
  NOW,
  oauthError,
  tokenDeps,
  userToken,
} from '../helpers.js'

async function run(
  subjectToken: string,
  actorToken: string | undefined,
  client: AuthenticatedClient = clientA,
  isActive?: (token: { sub: string }) => boolean,
) {
  const extra: Record<string, string> =
    actorToken === undefined
      ? {}
      : { actor_token: actorToken, actor_token_type: TOKEN_TYPE.ACCESS_TOKEN }
  const request = parseExchangeRequest(exchangeParams(subjectToken, extra), DEFAULT_REQUEST_LIMITS)
  const deps = tokenDeps(isActive)
  const subject = await validateSubjectToken(request, deps)
  return validateActorToken(request, subject, checkClientMayExchange(deps.policy, client), deps)
}

const actorInvalid = (detail: string | RegExp) =>
  oauthError({
    error: 'invalid_request',
    statusCode: 400,
    description: 'actor_token is invalid',
    detail,
  })
const subjectInvalid = (detail: string | RegExp) =>
  oauthError({
    error: 'invalid_request',
    statusCode: 400,
    description: 'subject_token is invalid',
    detail,
  })

test('validateActorToken when no actor token then undefined', async () => {
  assert.equal(await run(userToken(), undefined), undefined)
})

test('validateActorToken when actor token is the client own token then VerifiedActor', async () => {
  const actor = await run(userToken(), clientToken('app-a'))
  assert.equal(actor?.sub, 'app-a')
  assert.equal(actor?.iss, ISSUER)
})

test('validateActorToken when actor is a declared service identity then accepted', async () => {
  const actor = await run(userToken(), clientToken('svc-a'))
  assert.equal(actor?.sub, 'svc-a')
})

test('validateActorToken when actor is not the authenticated client then invalid_request (S8)', async () => {
  await assert.rejects(
    run(userToken(), clientToken('app-b')),
    actorInvalid('actor token does not identify the authenticated client'),
  )
})

test('validateActorToken when actor token expired then invalid_request', async () => {
  await assert.rejects(
    run(userToken(), clientToken('app-a', { exp: NOW - 60 })),
    actorInvalid('actor token expired'),
  )
})

test('validateActorToken when actor token is an ID token then invalid_request', async () => {
  await assert.rejects(
    run(userToken(), userToken({ sub: 'app-a' }, { typ: 'JWT' })),
    actorInvalid(/actor token has typ "JWT"/),
  )
})

test('validateActorToken when actor token from untrusted issuer then invalid_request (S7)', async () => {
  await assert.rejects(
    run(userToken(), clientToken('app-a', { iss: 'https://other-tenant.example' })),
    actorInvalid('actor token issuer is not trusted'),
  )
})

test('validateActorToken when actor token inactive then invalid_request', async () => {
  await assert.rejects(
    run(userToken(), clientToken('app-a'), clientA, (token) => token.sub !== 'app-a'),
    actorInvalid(/actor token is not active/),
  )
})

test('validateActorToken when may_act names the actor then accepted', async () => {
  const actor = await run(
    userToken({ may_act: { sub: 'app-a', iss: ISSUER } }),
    clientToken('app-a'),
  )
  assert.equal(actor?.sub, 'app-a')
})

test('validateActorToken when may_act sub differs from actor then invalid_request (RFC 8693 §4.4)', async () => {
  await assert.rejects(
    run(userToken({ may_act: { sub: 'svc-a' } }), clientToken('app-a')),
    actorInvalid('actor token sub is not named in may_act.sub'),
  )
})

test('validateActorToken when may_act iss differs from actor then invalid_request', async () => {
  await assert.rejects(
    run(
      userToken({ may_act: { sub: 'app-a', iss: 'https://elsewhere.example' } }),
      clientToken('app-a'),
    ),
    actorInvalid('actor token iss is not may_act.iss'),
  )
})

test('validateActorToken when may_act and no actor token then the requester must match', async () => {
  assert.equal(
    await run(userToken({ may_act: { sub: 'app-a', iss: ISSUER } }), undefined),
    undefined,
  )
  await assert.rejects(
    run(userToken({ may_act: { sub: 'app-z' } }), undefined),
    subjectInvalid('subject token requester is not named in may_act.sub'),
  )
})

/** clientA as an agent: its policy requires may_act of every subject (issue 16). */
async function runAsAgent(subjectToken: string, actorToken: string | undefined) {
  const extra: Record<string, string> =
    actorToken === undefined
      ? {}
      : { actor_token: actorToken, actor_token_type: TOKEN_TYPE.ACCESS_TOKEN }
  const request = parseExchangeRequest(exchangeParams(subjectToken, extra), DEFAULT_REQUEST_LIMITS)
  const deps = tokenDeps()
  const subject = await validateSubjectToken(request, deps)
  const client = checkClientMayExchange(deps.policy, clientA)
  return validateActorToken(
    request,
    subject,
    { ...client, policy: { ...client.policy, requireMayAct: true } },
    deps,
  )
}

test('validateActorToken when requireMayAct and subject has no may_act then invalid_request, with or without actor', async () => {
  await assert.rejects(
    runAsAgent(userToken(), clientToken('app-a')),
    subjectInvalid('subject token carries no may_act: the user has not delegated to this client'),
  )
  await assert.rejects(
    runAsAgent(userToken(), undefined),
    subjectInvalid('subject token carries no may_act: the user has not delegated to this client'),
  )
})

test('validateActorToken when requireMayAct and may_act names the agent then accepted', async () => {
  const actor = await runAsAgent(userToken({ may_act: { sub: 'app-a' } }), clientToken('app-a'))
  assert.equal(actor?.sub, 'app-a')
})
