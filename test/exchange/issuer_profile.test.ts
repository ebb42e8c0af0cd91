import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import {
  checkClientMayExchange,
  checkSubjectAddressedTo,
  decideExchange,
} from '../../src/exchange/token_exchange/decide.js'
import {
  createIssuerProfile,
  DEFAULT_ISSUER_PROFILE,
  upstreamClientIdsOf,
} from '../../src/exchange/issuer_profile.js'
import { JwsVerificationError, createJwsVerifier } from '../../src/jws/verify_jws.js'
import { parseExchangeRequest } from '../../src/exchange/token_exchange/parse_request.js'
import { createExchangePolicy } from '../../src/exchange/policy.js'
import { DEFAULT_REQUEST_LIMITS } from '../../src/exchange/types.js'
import { validateSubjectToken } from '../../src/exchange/token_exchange/validate_subject.js'
import {
  clientA,
  exchangeParams,
  ISSUER,
  NOW,
  oauthError,
  policyInput,
  signToken,
  tokenDeps,
} from './helpers.js'

const UPSTREAM = 'https://authentik.example/application/o/app-a/'
const profiled = createExchangePolicy({
  ...policyInput,
  trustedIssuers: [ISSUER, UPSTREAM],
  issuers: {
    [UPSTREAM]: {
      acceptedTypes: ['JWT'],
      claims: { sub: 'preferred_username', clientId: 'azp', jti: 'uid' },
      notAccessTokenClaims: ['events', 'at_hash', 'c_hash', 's_hash'],
      scopesWhenAbsent: ['todos:read'],
      clients: { 'upstream-a': 'app-a' },
    },
  },
})

/** An access token shaped like authentik's: typ JWT, azp, uid, nonce, no client_id/jti/scope. */
function upstreamToken(
  overrides: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
) {
  return signToken(
    {
      iss: UPSTREAM,
      sub: 'hashed-user-id',
      preferred_username: 'alice',
      aud: 'upstream-a',
      azp: 'upstream-a',
      uid: randomUUID(),
      nonce: 'n-from-login',
      iat: NOW - 10,
      exp: NOW + 600,
      ...overrides,
    },
    { typ: 'JWT', ...header },
  )
}

const validate = (token: string, policy = profiled) =>
  validateSubjectToken(parseExchangeRequest(exchangeParams(token), DEFAULT_REQUEST_LIMITS), {
    ...tokenDeps(),
    policy,
  })

const subjectInvalid = (detail: string | RegExp) =>
  oauthError({
    error: 'invalid_request',
    statusCode: 400,
    description: 'subject_token is invalid',
    detail,
  })

test('issuer profile when typ JWT from the profiled issuer then read through the claim mapping', async () => {
  const subject = await validate(upstreamToken())
  assert.equal(subject.sub, 'alice')
  assert.equal(subject.clientId, 'upstream-a')
  assert.deepEqual(subject.scopes, ['todos:read'], 'scopesWhenAbsent when no scope claim')
})

test('issuer profile when typ at+jwt from the profiled issuer then invalid_request', async () => {
  await assert.rejects(
    validate(upstreamToken({}, { typ: 'at+jwt' })),
    subjectInvalid('subject token has typ "at+jwt", expected jwt'),
  )
})

test('issuer profile when typ JWT from an issuer without profile then invalid_request (S3)', async () => {
  await assert.rejects(
    validate(upstreamToken({ iss: ISSUER })),
    subjectInvalid(/has typ "JWT", expected at\+jwt or application\/at\+jwt/),
  )
})

test('issuer profile when the mapped jti claim is missing (an ID token) then invalid_request', async () => {
  await assert.rejects(
    validate(upstreamToken({ uid: undefined })),
    subjectInvalid('subject token is missing uid'),
  )
})

test('issuer profile when a marker it keeps is present then invalid_request', async () => {
  await assert.rejects(
    validate(upstreamToken({ at_hash: 'x' })),
    subjectInvalid('subject token carries at_hash: not an access token'),
  )
})

test('issuer profile when the token has a scope claim then scopesWhenAbsent is not used', async () => {
  const subject = await validate(upstreamToken({ scope: 'openid' }))
  assert.deepEqual(subject.scopes, ['openid'])
})

test('issuer profile when keyed by an issuer that is not trusted then TypeError', () => {
  assert.throws(
    () => createExchangePolicy({ ...policyInput, issuers: { [UPSTREAM]: {} } }),
    (err: unknown) =>
      err instanceof TypeError && /issuers\..*not one of trustedIssuers/.test(err.message),
  )
})

test('upstreamClientIdsOf when the issuer maps ids then only the mapped ids count', () => {
  const profile = createIssuerProfile({ clients: { x1: 'app-a', x2: 'app-a', y: 'app-b' } })
  assert.deepEqual(upstreamClientIdsOf(profile, 'app-a'), ['x1', 'x2'])
  assert.deepEqual(upstreamClientIdsOf(profile, 'app-c'), [])
  assert.deepEqual(upstreamClientIdsOf(DEFAULT_ISSUER_PROFILE, 'app-a'), ['app-a'])
})

test('decideExchange when the subject is addressed to the mapped upstream id then decided (S2)', async () => {
  const subject = await validate(upstreamToken())
  const request = parseExchangeRequest(
    exchangeParams('x.y.z', { audience: 'app-b' }),
    DEFAULT_REQUEST_LIMITS,
  )
  const decision = decideExchange({
    request,
    client: checkClientMayExchange(profiled, clientA),
    subject,
    actor: undefined,
    policy: profiled,
    now: NOW,
  })
  assert.equal(decision.sub, 'alice')
  assert.equal(decision.clientId, 'app-a')
  assert.deepEqual(decision.scopes, ['todos:read'])
})

test('decideExchange when the upstream id equals the client id but is not mapped then invalid_request (S2)', async () => {
  const subject = await validate(upstreamToken({ aud: 'app-a', azp: 'app-a' }))
  const request = parseExchangeRequest(
    exchangeParams('x.y.z', { audience: 'app-b' }),
    DEFAULT_REQUEST_LIMITS,
  )
  assert.throws(
    () =>
      decideExchange({
        request,
        client: checkClientMayExchange(profiled, clientA),
        subject,
        actor: undefined,
        policy: profiled,
        now: NOW,
      }),
    subjectInvalid('subject token is not addressed to the requesting client'),
  )
  assert.throws(() => checkSubjectAddressedTo(subject, []), subjectInvalid(/not addressed/))
})

test('verifyAccessToken when the key resolver reports keys unavailable then temporarily_unavailable 503, no verdict on the token', async () => {
  const verifier = createJwsVerifier({
    algorithms: ['ES256'],
    resolveKey: () => {
      throw new JwsVerificationError('key_unavailable', 'upstream keys unavailable')
    },
  })
  await assert.rejects(
    validateSubjectToken(
      parseExchangeRequest(exchangeParams(upstreamToken()), DEFAULT_REQUEST_LIMITS),
      {
        ...tokenDeps(),
        verifier,
        policy: profiled,
      },
    ),
    oauthError({
      error: 'temporarily_unavailable',
      statusCode: 503,
      description: 'subject_token cannot be verified right now, retry later',
      detail: 'subject token cannot be verified: upstream keys unavailable',
    }),
  )
})
