import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseExchangeRequest } from '../../../src/exchange/token_exchange/parse_request.js'
import { DEFAULT_REQUEST_LIMITS } from '../../../src/exchange/types.js'
import { validateSubjectToken } from '../../../src/exchange/token_exchange/validate_subject.js'
import {
  attackerSigner,
  exchangeParams,
  ISSUER,
  NOW,
  oauthError,
  signToken,
  tokenDeps,
  userToken,
} from '../helpers.js'

const validate = (token: string, isActive?: () => boolean) =>
  validateSubjectToken(
    parseExchangeRequest(exchangeParams(token), DEFAULT_REQUEST_LIMITS),
    tokenDeps(isActive),
  )

const subjectInvalid = (detail: string | RegExp) =>
  oauthError({
    error: 'invalid_request',
    statusCode: 400,
    description: 'subject_token is invalid',
    detail,
  })

test('validateSubjectToken when valid access token then VerifiedSubject', async () => {
  const subject = await validate(
    userToken({
      aud: ['app-a', 'api'],
      azp: 'app-a',
      act: { sub: 'app-x', iss: ISSUER, extra: 1 },
    }),
  )
  assert.equal(subject.sub, 'alice')
  assert.equal(subject.iss, ISSUER)
  assert.deepEqual(subject.aud, ['app-a', 'api'])
  assert.equal(subject.clientId, 'app-a')
  assert.equal(subject.azp, 'app-a')
  assert.deepEqual(subject.scopes, ['openid', 'todos:read', 'todos:write'])
  assert.equal(subject.exp, NOW + 600)
  assert.deepEqual(subject.act, { sub: 'app-x', iss: ISSUER })
  assert.equal(subject.mayAct, undefined)
})

test('validateSubjectToken when typ is application/AT+JWT then accepted', async () => {
  await validate(userToken({}, { typ: 'application/AT+JWT' }))
})

test('validateSubjectToken when signature tampered then invalid_request', async () => {
  const [h, p, s] = userToken().split('.')
  const tampered = `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`
  await assert.rejects(
    validate(tampered),
    subjectInvalid('subject token failed JWS verification: signature_invalid'),
  )
})

test('validateSubjectToken when signed with unknown kid then invalid_request', async () => {
  const token = attackerSigner.sign({ typ: 'at+jwt' }, { iss: ISSUER, sub: 'alice' })
  await assert.rejects(
    validate(token),
    subjectInvalid('subject token failed JWS verification: key_not_found'),
  )
})

test('validateSubjectToken when ID token (typ JWT) then invalid_request (S3)', async () => {
  const idToken = userToken({ nonce: 'n', at_hash: 'x' }, { typ: 'JWT' })
  await assert.rejects(validate(idToken), subjectInvalid(/has typ "JWT", expected at\+jwt/))
})

test('validateSubjectToken when no typ then invalid_request', async () => {
  await assert.rejects(validate(userToken({}, { typ: undefined })), subjectInvalid(/has typ null/))
})

test('validateSubjectToken when logout token (typ logout+jwt) then invalid_request (S3)', async () => {
  const logout = userToken(
    { events: { 'http://schemas.openid.net/event/backchannel-logout': {} } },
    { typ: 'logout+jwt' },
  )
  await assert.rejects(validate(logout), subjectInvalid(/typ "logout\+jwt"/))
})

test('validateSubjectToken when at+jwt carries logout events then invalid_request', async () => {
  const token = userToken({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} } })
  await assert.rejects(
    validate(token),
    subjectInvalid('subject token carries events: not an access token'),
  )
})

test('validateSubjectToken when at+jwt carries ID token claims then invalid_request', async () => {
  await assert.rejects(validate(userToken({ nonce: 'n' })), subjectInvalid(/carries nonce/))
  await assert.rejects(validate(userToken({ at_hash: 'h' })), subjectInvalid(/carries at_hash/))
})

for (const claim of ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id']) {
  test(`validateSubjectToken when ${claim} missing then invalid_request`, async () => {
    await assert.rejects(
      validate(userToken({ [claim]: undefined })),
      subjectInvalid(`subject token is missing ${claim}`),
    )
  })
}

test('validateSubjectToken when claims have wrong types then invalid_request', async () => {
  await assert.rejects(
    validate(userToken({ aud: [] })),
    subjectInvalid('subject token has a malformed aud'),
  )
  await assert.rejects(
    validate(userToken({ exp: '9999999999' })),
    subjectInvalid('subject token has a malformed exp'),
  )
  await assert.rejects(
    validate(userToken({ sub: 42 })),
    subjectInvalid('subject token has a malformed sub'),
  )
  await assert.rejects(
    validate(userToken({ scope: ['a'] })),
    subjectInvalid('subject token has a malformed scope'),
  )
})

test('validateSubjectToken when issuer unknown then invalid_request', async () => {
  await assert.rejects(
    validate(userToken({ iss: 'https://evil.example' })),
    subjectInvalid('subject token issuer is not trusted'),
  )
})

test('validateSubjectToken when expired beyond skew then invalid_request', async () => {
  await assert.rejects(
    validate(userToken({ exp: NOW - 30 })),
    subjectInvalid('subject token expired'),
  )
})

test('validateSubjectToken when expired within skew then accepted', async () => {
  await validate(userToken({ exp: NOW - 29 }))
})

test('validateSubjectToken when nbf in the future then invalid_request', async () => {
  await assert.rejects(
    validate(userToken({ nbf: NOW + 31 })),
    subjectInvalid('subject token is not yet valid (nbf)'),
  )
  await validate(userToken({ nbf: NOW + 30 }))
})

test('validateSubjectToken when iat in the future then invalid_request', async () => {
  await assert.rejects(
    validate(userToken({ iat: NOW + 31 })),
    subjectInvalid('subject token was issued in the future (iat)'),
  )
})

test('validateSubjectToken when subjectStatus says inactive then invalid_request', async () => {
  await assert.rejects(
    validate(userToken(), () => false),
    subjectInvalid('subject token is not active (unknown, revoked or its grant ended)'),
  )
})

test('validateSubjectToken when status check would pass but signature fails then status is never asked', async () => {
  let asked = 0
  const token = attackerSigner.sign({ typ: 'at+jwt' }, {})
  await assert.rejects(validate(token, () => (asked++, true)))
  assert.equal(asked, 0)
})

test('validateSubjectToken when act malformed then invalid_request', async () => {
  await assert.rejects(
    validate(userToken({ act: 'app-b' })),
    subjectInvalid('subject token act claim is not an object'),
  )
  await assert.rejects(
    validate(userToken({ act: { iss: ISSUER } })),
    subjectInvalid('subject token act claim has no sub'),
  )
})

test('validateSubjectToken when act or may_act is anything but an object with a string sub then invalid_request', async () => {
  const shapes: [unknown, string][] = [
    [null, 'is not an object'],
    ['app-b', 'is not an object'],
    [42, 'is not an object'],
    [true, 'is not an object'],
    [[{ sub: 'app-b' }], 'is not an object'],
    [{}, 'has no sub'],
    [{ sub: '' }, 'has no sub'],
    [{ sub: 7 }, 'has no sub'],
    [{ sub: 'app-b', iss: 7 }, 'iss is not a string'],
    [{ sub: 'app-b', act: 'app-a' }, 'is not an object'],
    [{ sub: 'app-b', act: [{ sub: 'app-a' }] }, 'is not an object'],
    [{ sub: 'app-b', act: { sub: 'app-a', act: { iss: ISSUER } } }, 'has no sub'],
    [{ sub: 'app-b', act: { sub: 'app-a', act: null } }, 'is not an object'],
  ]
  for (const [act, reason] of shapes) {
    await assert.rejects(
      validate(userToken({ act })),
      subjectInvalid(`subject token act claim ${reason}`),
      JSON.stringify(act),
    )
  }
  const mayActShapes: [unknown, string][] = [
    [null, 'may_act claim is not an object'],
    ['assistant', 'may_act claim is not an object'],
    [1, 'may_act claim is not an object'],
    [['assistant'], 'may_act claim is not an object'],
    [{ iss: ISSUER }, 'may_act claim names no sub'],
    [{ sub: 5 }, 'may_act sub is not a string'],
    [{ sub: '' }, 'may_act sub is not a string'],
    [{ sub: 'assistant', iss: false }, 'may_act iss is not a string'],
    [{ sub: 'assistant', act: 'app-y' }, 'may_act act claim is not an object'],
    [{ sub: 'assistant', act: { iss: ISSUER } }, 'may_act act claim has no sub'],
  ]
  for (const [mayAct, reason] of mayActShapes) {
    await assert.rejects(
      validate(userToken({ may_act: mayAct })),
      subjectInvalid(`subject token ${reason}`),
      JSON.stringify(mayAct),
    )
  }
})

test('validateSubjectToken when may_act present then parsed', async () => {
  const subject = await validate(userToken({ may_act: { sub: 'app-a' } }))
  assert.deepEqual(subject.mayAct, { sub: 'app-a' })
  await assert.rejects(
    validate(userToken({ may_act: {} })),
    subjectInvalid('subject token may_act claim names no sub'),
  )
})

test('validateSubjectToken when every failure then one description (no oracle, S19)', async () => {
  const descriptions = new Set<string>()
  for (const token of [
    userToken({ exp: NOW - 100 }),
    userToken({ iss: 'https://evil.example' }),
    userToken({}, { typ: 'JWT' }),
    attackerSigner.sign({ typ: 'at+jwt' }, {}),
    signToken({ iss: ISSUER }),
  ]) {
    await validate(token).catch((err: Error & { description: string }) =>
      descriptions.add(err.description),
    )
  }
  await validate(userToken(), () => false).catch((err) => descriptions.add(err.description))
  assert.deepEqual([...descriptions], ['subject_token is invalid'])
})
