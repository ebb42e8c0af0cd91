import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { createClientAuthenticator } from '../../src/exchange/authenticate_client.js'
import { InvalidClient } from '../../src/exchange/errors.js'
import { oauthError } from './helpers.js'

const secret = 'a secret: with+special/chars%'
const authenticator = createClientAuthenticator(
  new Map([
    ['app-a', { clientId: 'app-a', secret }],
    [
      'app b',
      { clientId: 'app b', secretSha256: createHash('sha256').update('b-secret').digest() },
    ],
    ['public', { clientId: 'public' }],
  ]),
)
const basic = (id: string, value: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(value)}`).toString('base64')}`
const invalidClient = (detail: string, challenge: boolean) => (err: unknown) => {
  oauthError({ error: 'invalid_client', statusCode: 401, detail })(err)
  assert.equal((err as InvalidClient).wwwAuthenticate !== undefined, challenge)
  return true
}

test('authenticate when client_secret_basic with form-urlencoded credentials then client', () => {
  assert.deepEqual(authenticator.authenticate({ authorizationHeader: basic('app-a', secret) }), {
    clientId: 'app-a',
    authMethod: 'client_secret_basic',
  })
  const plus = `Basic ${Buffer.from('app+b:b-secret').toString('base64')}`
  assert.equal(authenticator.authenticate({ authorizationHeader: plus }).clientId, 'app b')
})

test('authenticate when client_secret_post then client', () => {
  assert.deepEqual(
    authenticator.authenticate({ body: { client_id: 'app-a', client_secret: secret } }),
    {
      clientId: 'app-a',
      authMethod: 'client_secret_post',
    },
  )
})

test('authenticate when Basic with wrong secret then invalid_client with challenge', () => {
  assert.throws(
    () => authenticator.authenticate({ authorizationHeader: basic('app-a', 'wrong') }),
    invalidClient('wrong client secret', true),
  )
})

test('authenticate when post with wrong secret then invalid_client without challenge', () => {
  assert.throws(
    () => authenticator.authenticate({ body: { client_id: 'app-a', client_secret: 'wrong' } }),
    invalidClient('wrong client secret', false),
  )
})

test('authenticate when unknown client then invalid_client', () => {
  assert.throws(
    () => authenticator.authenticate({ body: { client_id: 'nobody', client_secret: 'x' } }),
    invalidClient('unknown client', false),
  )
})

test('authenticate when public client (no secret) then invalid_client (S6)', () => {
  assert.throws(
    () => authenticator.authenticate({ body: { client_id: 'app-a' } }),
    invalidClient('public client (no secret): confidential clients only', false),
  )
  assert.throws(
    () => authenticator.authenticate({ body: { client_id: 'public', client_secret: 'anything' } }),
    invalidClient('public client: confidential clients only', false),
  )
})

test('authenticate when no credentials then invalid_client', () => {
  assert.throws(
    () => authenticator.authenticate({}),
    invalidClient('no client authentication', false),
  )
})

test('authenticate when Basic and client_secret both sent then invalid_request', () => {
  assert.throws(
    () =>
      authenticator.authenticate({
        authorizationHeader: basic('app-a', secret),
        body: { client_secret: secret },
      }),
    oauthError({
      error: 'invalid_request',
      statusCode: 400,
      detail: 'both Authorization header and client_secret sent',
    }),
  )
})

test('authenticate when body client_id differs from Basic then invalid_request', () => {
  assert.throws(
    () =>
      authenticator.authenticate({
        authorizationHeader: basic('app-a', secret),
        body: { client_id: 'app b' },
      }),
    oauthError({ error: 'invalid_request', statusCode: 400 }),
  )
})

test('authenticate when Authorization is not Basic then invalid_client with challenge', () => {
  for (const header of [
    'Bearer abc',
    'Basic !!!',
    `Basic ${Buffer.from('nocolon').toString('base64')}`,
  ]) {
    assert.throws(
      () => authenticator.authenticate({ authorizationHeader: header }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidClient)
        assert.ok(err.wwwAuthenticate?.startsWith('Basic'))
        return true
      },
    )
  }
})

test('authenticate when client_secret repeated then invalid_request', () => {
  assert.throws(
    () =>
      authenticator.authenticate({ body: { client_id: 'app-a', client_secret: [secret, secret] } }),
    oauthError({ error: 'invalid_request', statusCode: 400 }),
  )
})
