import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  InvalidClient,
  InvalidGrant,
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  PayloadTooLarge,
  ServerError,
  SUBJECT_TOKEN_INVALID,
  toErrorResponse,
  TooManyRequests,
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

test('every OAuth error class names a stable ERR_OAUTH_ code on the class and the instance', () => {
  const cases = [
    [InvalidRequest, new InvalidRequest()],
    [InvalidClient, new InvalidClient()],
    [InvalidGrant, new InvalidGrant()],
    [UnauthorizedClient, new UnauthorizedClient()],
    [InvalidScope, new InvalidScope()],
    [InvalidTarget, new InvalidTarget()],
    [UnsupportedGrantType, new UnsupportedGrantType()],
    [TooManyRequests, new TooManyRequests({ retryAfterSeconds: 1 })],
    [PayloadTooLarge, new PayloadTooLarge()],
    [ServerError, new ServerError()],
  ] as const
  const codes = new Set<string>()
  for (const [errorClass, err] of cases) {
    assert.match(err.code, /^ERR_OAUTH_[A-Z_]+$/)
    assert.equal(err.code, errorClass.code)
    codes.add(err.code)
  }
  assert.equal(codes.size, cases.length, 'one code per class')
})

test('toErrorResponse when TooManyRequests then 429 temporarily_unavailable with Retry-After', () => {
  const response = toErrorResponse(
    new TooManyRequests({ retryAfterSeconds: 11.2, detail: 'per-IP limit' }),
  )
  assert.deepEqual(response, {
    statusCode: 429,
    body: { error: 'temporarily_unavailable', error_description: 'too many requests, retry later' },
    headers: { 'Retry-After': '12' },
  })
  assert.equal(
    toErrorResponse(new TooManyRequests({ retryAfterSeconds: 0 })).headers['Retry-After'],
    '1',
  )
  assert.throws(() => new TooManyRequests({ retryAfterSeconds: Number.NaN }), TypeError)
})

test('toErrorResponse when PayloadTooLarge then invalid_request, 413 by default, connection closed', () => {
  assert.deepEqual(toErrorResponse(new PayloadTooLarge()), {
    statusCode: 413,
    body: { error: 'invalid_request', error_description: 'request body is too large' },
    headers: { Connection: 'close' },
  })
  assert.equal(toErrorResponse(new PayloadTooLarge({ statusCode: 400 })).statusCode, 400)
})
