import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseExchangeRequest } from '../../../src/exchange/token_exchange/parse_request.js'
import { GRANT_TYPE_TOKEN_EXCHANGE } from '../../../src/exchange/token_exchange/types.js'
import { DEFAULT_REQUEST_LIMITS, TOKEN_TYPE } from '../../../src/exchange/types.js'
import { oauthError } from '../helpers.js'

const base = {
  grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
  subject_token: 'header.payload.signature',
  subject_token_type: TOKEN_TYPE.ACCESS_TOKEN,
}
const parse = (params: Record<string, string | string[] | undefined>) =>
  parseExchangeRequest(params, DEFAULT_REQUEST_LIMITS)
const invalidRequest = (description: string, detail?: RegExp) =>
  oauthError({ error: 'invalid_request', statusCode: 400, description, detail })

test('parseExchangeRequest when minimal then defaults to access_token and no scope', () => {
  const request = parse(base)
  assert.equal(request.requestedTokenType, TOKEN_TYPE.ACCESS_TOKEN)
  assert.equal(request.scopes, undefined)
  assert.deepEqual(request.audiences, [])
  assert.deepEqual(request.resources, [])
  assert.equal(request.actorToken, undefined)
  assert.ok(Object.isFrozen(request))
})

test('parseExchangeRequest when all parameters then all are read', () => {
  const request = parse({
    ...base,
    audience: ['app-b', 'app-b'],
    resource: 'https://b.example/api',
    scope: 'todos:read openid',
    requested_token_type: TOKEN_TYPE.JWT,
    subject_token_type: TOKEN_TYPE.JWT,
    actor_token: 'a.b.c',
    actor_token_type: TOKEN_TYPE.ACCESS_TOKEN,
  })
  assert.deepEqual(request.audiences, ['app-b'])
  assert.deepEqual(request.resources, ['https://b.example/api'])
  assert.deepEqual(request.scopes, ['todos:read', 'openid'])
  assert.equal(request.requestedTokenType, TOKEN_TYPE.JWT)
  assert.equal(request.subjectTokenType, TOKEN_TYPE.JWT)
  assert.equal(request.actorToken, 'a.b.c')
})

test('parseExchangeRequest when grant_type missing then invalid_request', () => {
  assert.throws(
    () => parse({ ...base, grant_type: undefined }),
    invalidRequest('grant_type is missing', /grant_type/),
  )
})

test('parseExchangeRequest when grant_type is another grant then unsupported_grant_type', () => {
  assert.throws(
    () => parse({ ...base, grant_type: 'client_credentials' }),
    oauthError({ error: 'unsupported_grant_type', statusCode: 400 }),
  )
})

test('parseExchangeRequest when subject_token missing or empty then invalid_request', () => {
  for (const value of [undefined, '']) {
    assert.throws(
      () => parse({ ...base, subject_token: value }),
      invalidRequest('subject_token is missing', /^subject_token: missing$/),
    )
  }
})

test('parseExchangeRequest when subject_token_type missing then invalid_request', () => {
  assert.throws(
    () => parse({ ...base, subject_token_type: undefined }),
    invalidRequest('subject_token_type is missing'),
  )
})

for (const name of [
  'grant_type',
  'scope',
  'requested_token_type',
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
]) {
  test(`parseExchangeRequest when ${name} duplicated then invalid_request naming it`, () => {
    const value = (base as Record<string, string>)[name] ?? TOKEN_TYPE.ACCESS_TOKEN
    assert.throws(
      () => parse({ ...base, [name]: [value, value] }),
      invalidRequest(`${name} is duplicated`, new RegExp(`^${name}: 2 values$`)),
    )
  })
}

test('parseExchangeRequest when audience and resource repeat then both are kept', () => {
  const request = parse({
    ...base,
    audience: ['app-b', 'app-c'],
    resource: ['https://b.example/api', 'urn:example:c'],
  })
  assert.deepEqual(request.audiences, ['app-b', 'app-c'])
  assert.deepEqual(request.resources, ['https://b.example/api', 'urn:example:c'])
})

test('parseExchangeRequest when too many audiences then invalid_request', () => {
  assert.throws(
    () => parse({ ...base, audience: ['a', 'b', 'c', 'd', 'e', 'f'] }),
    invalidRequest('audience has too many values', /6 values, limit 5/),
  )
})

test('parseExchangeRequest when an audience is empty among repeats then invalid_request', () => {
  assert.throws(
    () => parse({ ...base, audience: ['app-b', ''] }),
    invalidRequest('audience is malformed'),
  )
})

for (const resource of [
  '/relative',
  'https://b.example/api#frag',
  'https://b.example/api?x=1',
  'not a uri',
]) {
  test(`parseExchangeRequest when resource ${JSON.stringify(resource)} then invalid_request`, () => {
    assert.throws(() => parse({ ...base, resource }), invalidRequest('resource is malformed'))
  })
}

for (const scope of ['a  b', ' a', 'a\tb', 'sco"pe', 'sco\\pe', 'é']) {
  test(`parseExchangeRequest when scope ${JSON.stringify(scope)} then invalid_request`, () => {
    assert.throws(() => parse({ ...base, scope }), invalidRequest('scope is malformed'))
  })
}

test('parseExchangeRequest when too many scopes then invalid_request', () => {
  const scope = Array.from({ length: 21 }, (_, i) => `s${i}`).join(' ')
  assert.throws(() => parse({ ...base, scope }), invalidRequest('scope has too many values'))
})

test('parseExchangeRequest when subject_token oversized then invalid_request, never dropped (S4)', () => {
  assert.throws(
    () => parse({ ...base, subject_token: 'x'.repeat(8193) }),
    invalidRequest('subject_token is too long', /8193 characters, limit 8192/),
  )
})

test('parseExchangeRequest when actor_token oversized then invalid_request', () => {
  assert.throws(
    () =>
      parse({ ...base, actor_token: 'x'.repeat(8193), actor_token_type: TOKEN_TYPE.ACCESS_TOKEN }),
    invalidRequest('actor_token is too long'),
  )
})

test('parseExchangeRequest when another parameter oversized then invalid_request', () => {
  assert.throws(
    () => parse({ ...base, audience: 'a'.repeat(1025) }),
    invalidRequest('audience is too long'),
  )
  assert.throws(
    () => parse({ ...base, scope: 'a'.repeat(1025) }),
    invalidRequest('scope is too long'),
  )
})

for (const type of [
  TOKEN_TYPE.ID_TOKEN,
  TOKEN_TYPE.REFRESH_TOKEN,
  TOKEN_TYPE.SAML1,
  TOKEN_TYPE.SAML2,
]) {
  test(`parseExchangeRequest when subject_token_type ${type.split(':').pop()} then invalid_request`, () => {
    assert.throws(
      () => parse({ ...base, subject_token_type: type }),
      invalidRequest('subject_token_type is not supported', /is not accepted/),
    )
  })
}

test('parseExchangeRequest when unknown token type URI then invalid_request', () => {
  assert.throws(
    () => parse({ ...base, subject_token_type: 'urn:example:token' }),
    invalidRequest('subject_token_type is not supported', /not a known token type URI/),
  )
  assert.throws(
    () => parse({ ...base, requested_token_type: TOKEN_TYPE.REFRESH_TOKEN }),
    invalidRequest('requested_token_type is not supported'),
  )
  assert.throws(
    () => parse({ ...base, actor_token: 'a.b.c', actor_token_type: TOKEN_TYPE.ID_TOKEN }),
    invalidRequest('actor_token_type is not supported'),
  )
})

test('parseExchangeRequest when actor_token without actor_token_type then invalid_request', () => {
  assert.throws(
    () => parse({ ...base, actor_token: 'a.b.c' }),
    invalidRequest('actor_token_type is missing', /without actor_token_type/),
  )
})

test('parseExchangeRequest when actor_token_type without actor_token then invalid_request', () => {
  assert.throws(
    () => parse({ ...base, actor_token_type: TOKEN_TYPE.ACCESS_TOKEN }),
    invalidRequest('actor_token is missing', /without actor_token$/),
  )
})
