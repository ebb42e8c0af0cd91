import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  InvalidClient,
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  ServerError,
  SUBJECT_TOKEN_INVALID,
  toErrorResponse,
  UnauthorizedClient,
  UnsupportedGrantType,
} from '../../src/exchange/errors.js'

test('errors carry code, status, name and default description', () => {
  const cases = [
    [new InvalidRequest(), 'invalid_request', 400],
    [new InvalidClient(), 'invalid_client', 401],
    [new UnauthorizedClient(), 'unauthorized_client', 400],
    [new InvalidScope(), 'invalid_scope', 400],
    [new InvalidTarget(), 'invalid_target', 400],
    [new UnsupportedGrantType(), 'unsupported_grant_type', 400],
    [new ServerError(), 'server_error', 500],
  ] as const
  for (const [err, code, status] of cases) {
    assert.equal(err.error, code)
    assert.equal(err.statusCode, status)
    assert.equal(err.name, err.constructor.name)
    assert.ok(err.description.length > 0)
    assert.equal(err.message, err.description)
  }
})

test('toErrorResponse when OAuthError then body has description and never detail', () => {
  const err = new InvalidRequest({
    description: SUBJECT_TOKEN_INVALID,
    detail: 'subject token expired',
  })
  const response = toErrorResponse(err)
  assert.deepEqual(response, {
    statusCode: 400,
    body: { error: 'invalid_request', error_description: 'subject_token is invalid' },
    headers: {},
  })
  assert.ok(!JSON.stringify(response).includes('expired'))
})

test('toErrorResponse when InvalidClient from Basic then WWW-Authenticate header', () => {
  const response = toErrorResponse(
    new InvalidClient({ basicChallenge: true, detail: 'wrong secret' }),
  )
  assert.equal(response.statusCode, 401)
  assert.match(response.headers['WWW-Authenticate'] ?? '', /^Basic /)
  assert.deepEqual(toErrorResponse(new InvalidClient()).headers, {})
})

test('toErrorResponse when not an OAuthError then generic server_error 500', () => {
  const response = toErrorResponse(new Error('database password is hunter2'))
  assert.deepEqual(response, {
    statusCode: 500,
    body: { error: 'server_error', error_description: 'internal server error' },
    headers: {},
  })
})
