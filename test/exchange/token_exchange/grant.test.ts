/**
 * The RFC 8693 grant end to end under its audited runner, with real keys and tokens. Every failing
 * case asserts the minter was never called (Spring's verifyNoInteractions guard) and that exactly
 * one audit event was emitted.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createTokenExchange } from '../../../src/exchange/token_exchange/grant.js'
import { createJwsMinter } from '../../../src/exchange/mint.js'
import { TOKEN_TYPE, type AuthenticatedClient } from '../../../src/exchange/types.js'
import {
  attackerSigner,
  buildEngine,
  clientA,
  clientB,
  clientToken,
  decodeHeader,
  decodePayload,
  exchangeParams,
  ISSUER,
  NOW,
  oauthError,
  policy,
  signer,
  userToken,
  verifier,
  type ExpectedError,
} from '../helpers.js'

async function expectRefused(
  params: Record<string, string | string[] | undefined>,
  expected: ExpectedError,
  options: { client?: AuthenticatedClient; isActive?: () => boolean } = {},
) {
  const harness = buildEngine({ isActive: options.isActive })
  await assert.rejects(
    harness.engine.exchange({ params, client: options.client ?? clientA }),
    oauthError(expected),
  )
  assert.equal(harness.mintCalls, 0, 'minter must not be called')
  assert.equal(harness.audits.length, 1)
  const [event] = harness.audits
  assert.equal(event!.outcome, 'refused')
  assert.equal(event!.error, expected.error)
  return event!
}

const subjectInvalid = (detail: string | RegExp): ExpectedError => ({
  error: 'invalid_request',
  statusCode: 400,
  description: 'subject_token is invalid',
  detail,
})

test('exchange when app-a exchanges a user token for app-b then a delegated at+jwt', async () => {
  const { engine, audits, minted } = buildEngine()
  const subject = userToken({ jti: 'user-jti' })
  const response = await engine.exchange({
    params: exchangeParams(subject, { audience: 'app-b' }),
    client: clientA,
  })
  assert.deepEqual(Object.keys(response).sort(), [
    'access_token',
    'expires_in',
    'issued_token_type',
    'scope',
    'token_type',
  ])
  assert.equal(response.issued_token_type, TOKEN_TYPE.ACCESS_TOKEN)
  assert.equal(response.token_type, 'Bearer')
  assert.equal(response.expires_in, 300)
  assert.equal(response.scope, 'todos:read')
  assert.equal(response.access_token, minted[0])
  assert.equal(decodeHeader(response.access_token).typ, 'at+jwt')
  const claims = decodePayload(response.access_token)
  assert.equal(claims.sub, 'alice')
  assert.equal(claims.aud, 'app-b')
  assert.equal(claims.client_id, 'app-a')
  assert.deepEqual(claims.act, { sub: 'app-a', iss: ISSUER })
  assert.deepEqual(audits, [
    {
      event: 'token_exchange',
      outcome: 'issued',
      clientId: 'app-a',
      subjectSub: 'alice',
      subjectJti: 'user-jti',
      audience: 'app-b',
      scopes: ['todos:read'],
      issuedJti: claims.jti,
    },
  ])
})

test('exchange when A→B token re-exchanged by B then act {sub:B, act:{sub:A}} (S18)', async () => {
  const { engine } = buildEngine()
  const first = await engine.exchange({
    params: exchangeParams(userToken(), { audience: 'app-b' }),
    client: clientA,
  })
  const second = await engine.exchange({
    params: exchangeParams(first.access_token, { audience: 'app-c' }),
    client: clientB,
  })
  const claims = decodePayload(second.access_token)
  assert.equal(claims.sub, 'alice')
  assert.equal(claims.aud, 'app-c')
  assert.deepEqual(claims.act, { sub: 'app-b', iss: ISSUER, act: { sub: 'app-a', iss: ISSUER } })
  assert.ok((claims.exp as number) <= (decodePayload(first.access_token).exp as number))
})

test('exchange when A→B token re-exchanged back toward A by B then chain cycle refused', async () => {
  const { engine } = buildEngine()
  const first = await engine.exchange({
    params: exchangeParams(userToken(), { audience: 'app-b' }),
    client: clientA,
  })
  const second = await engine.exchange({
    params: exchangeParams(first.access_token, { audience: 'app-a' }),
    client: clientB,
  })
  // app-a now holds alice's token with chain app-b → app-a and tries to exchange it again.
  await expectRefused(
    exchangeParams(second.access_token, { audience: 'app-b' }),
    subjectInvalid('actor chain has a cycle: app-a appears twice'),
  )
})

test('exchange when actor token is the client then issued and audited with actor jti', async () => {
  const { engine, audits } = buildEngine()
  const params = exchangeParams(userToken(), {
    audience: 'app-b',
    actor_token: clientToken('app-a', { jti: 'actor-jti' }),
    actor_token_type: TOKEN_TYPE.ACCESS_TOKEN,
  })
  await engine.exchange({ params, client: clientA })
  assert.equal(audits[0]!.actorSub, 'app-a')
  assert.equal(audits[0]!.actorJti, 'actor-jti')
})

test('exchange when grant_type missing then invalid_request', async () => {
  await expectRefused(
    { ...exchangeParams(userToken()), grant_type: undefined },
    { error: 'invalid_request', statusCode: 400, detail: /grant_type/ },
  )
})

test('exchange when subject_token duplicated then invalid_request', async () => {
  const token = userToken()
  await expectRefused(exchangeParams(token, { subject_token: [token, token] }), {
    error: 'invalid_request',
    statusCode: 400,
    description: 'subject_token is duplicated',
  })
})

test('exchange when subject token type is id_token then invalid_request', async () => {
  await expectRefused(exchangeParams(userToken(), { subject_token_type: TOKEN_TYPE.ID_TOKEN }), {
    error: 'invalid_request',
    statusCode: 400,
    description: 'subject_token_type is not supported',
  })
})

test('exchange when oversized subject token then invalid_request, no fallback (S4)', async () => {
  await expectRefused(exchangeParams('a'.repeat(10_000)), {
    error: 'invalid_request',
    statusCode: 400,
    description: 'subject_token is too long',
  })
})

test('exchange when client not enabled then unauthorized_client before any token check', async () => {
  let statusAsked = 0
  const event = await expectRefused(
    exchangeParams(userToken({ aud: 'app-c' })),
    {
      error: 'unauthorized_client',
      statusCode: 400,
      detail: 'token exchange is disabled for the client',
    },
    {
      client: { clientId: 'app-c', authMethod: 'client_secret_post' },
      isActive: () => (statusAsked++, true),
    },
  )
  assert.equal(statusAsked, 0)
  assert.equal(event.subjectSub, undefined)
})

test('exchange when public client then invalid_client (S6)', async () => {
  await expectRefused(
    exchangeParams(userToken()),
    { error: 'invalid_client', statusCode: 401 },
    { client: { clientId: 'app-a', authMethod: 'none' as never } },
  )
})

test('exchange when subject signature tampered then invalid_request', async () => {
  const [h, p, s] = userToken().split('.')
  await expectRefused(
    exchangeParams(`${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`),
    subjectInvalid(/signature_invalid/),
  )
})

test('exchange when subject signed by an unknown key then invalid_request', async () => {
  await expectRefused(
    exchangeParams(attackerSigner.sign({ typ: 'at+jwt' }, { iss: ISSUER })),
    subjectInvalid(/key_not_found/),
  )
})

test('exchange when ID token presented as subject then invalid_request (S3)', async () => {
  await expectRefused(
    exchangeParams(userToken({ nonce: 'n' }, { typ: 'JWT' })),
    subjectInvalid(/typ "JWT"/),
  )
})

test('exchange when logout token presented as subject then invalid_request (S3)', async () => {
  await expectRefused(
    exchangeParams(userToken({ events: {} }, { typ: 'logout+jwt' })),
    subjectInvalid(/logout\+jwt/),
  )
})

test('exchange when subject expired then invalid_request', async () => {
  await expectRefused(
    exchangeParams(userToken({ exp: NOW - 60 })),
    subjectInvalid('subject token expired'),
  )
})

test('exchange when subject nbf in the future then invalid_request', async () => {
  await expectRefused(
    exchangeParams(userToken({ nbf: NOW + 120 })),
    subjectInvalid('subject token is not yet valid (nbf)'),
  )
})

test('exchange when subject inactive then invalid_request', async () => {
  await expectRefused(exchangeParams(userToken()), subjectInvalid(/is not active/), {
    isActive: () => false,
  })
})

test('exchange when subject from unknown issuer then invalid_request', async () => {
  await expectRefused(
    exchangeParams(userToken({ iss: 'https://evil.example' })),
    subjectInvalid('subject token issuer is not trusted'),
  )
})

test('exchange when subject not addressed to requester then invalid_request (S2)', async () => {
  await expectRefused(
    exchangeParams(userToken({ aud: 'app-b', client_id: 'app-b' }), { audience: 'app-b' }),
    subjectInvalid('subject token is not addressed to the requesting client'),
  )
})

test('exchange when audience outside policy then invalid_target (S1)', async () => {
  await expectRefused(exchangeParams(userToken(), { audience: 'app-c' }), {
    error: 'invalid_target',
    statusCode: 400,
    detail: 'target app-c is not allowed for the client',
  })
})

test('exchange when two targets then invalid_target', async () => {
  await expectRefused(
    exchangeParams(userToken({ aud: 'app-b' }), { audience: ['app-a', 'app-c'] }),
    { error: 'invalid_target', statusCode: 400, detail: 'request names 2 targets' },
    { client: clientB },
  )
})

test('exchange when scope widens beyond the client ceiling then invalid_scope (S15)', async () => {
  await expectRefused(
    exchangeParams(userToken(), { audience: 'app-b', scope: 'todos:read todos:write' }),
    {
      error: 'invalid_scope',
      statusCode: 400,
      detail: "scope todos:write exceeds the client's scope ceiling",
    },
  )
})

test('exchange when may_act names someone else then invalid_request', async () => {
  await expectRefused(
    exchangeParams(userToken({ may_act: { sub: 'app-z' } }), { audience: 'app-b' }),
    subjectInvalid(/may_act/),
  )
})

test('exchange when actor token is not the client then invalid_request (S8)', async () => {
  await expectRefused(
    exchangeParams(userToken(), {
      audience: 'app-b',
      actor_token: clientToken('app-b'),
      actor_token_type: TOKEN_TYPE.ACCESS_TOKEN,
    }),
    {
      error: 'invalid_request',
      statusCode: 400,
      description: 'actor_token is invalid',
      detail: 'actor token does not identify the authenticated client',
    },
  )
})

test('exchange when actor_token without type then invalid_request', async () => {
  await expectRefused(exchangeParams(userToken(), { actor_token: clientToken('app-a') }), {
    error: 'invalid_request',
    statusCode: 400,
    description: 'actor_token_type is missing',
  })
})

test('exchange when subject chain at depth cap then invalid_request', async () => {
  const act = { sub: 'p1', act: { sub: 'p2', act: { sub: 'p3', act: { sub: 'p4' } } } }
  await expectRefused(
    exchangeParams(userToken({ act }), { audience: 'app-b' }),
    subjectInvalid('actor chain depth 5 exceeds 4'),
  )
})

test('exchange when subject expires within the cap then exp equals subject exp (S17)', async () => {
  const { engine } = buildEngine()
  const response = await engine.exchange({
    params: exchangeParams(userToken({ exp: NOW + 45 }), { audience: 'app-b' }),
    client: clientA,
  })
  assert.equal(decodePayload(response.access_token).exp, NOW + 45)
  assert.equal(response.expires_in, 45)
})

test('exchange when impersonation then the issued token has no act', async () => {
  const { engine } = buildEngine()
  const response = await engine.exchange({
    params: exchangeParams(userToken({ aud: 'app-imp', client_id: 'app-imp' }), {
      audience: 'app-b',
    }),
    client: { clientId: 'app-imp', authMethod: 'client_secret_post' },
  })
  const claims = decodePayload(response.access_token)
  assert.equal('act' in claims, false)
  assert.equal(claims.client_id, 'app-imp')
})

test('exchange when minter throws then server_error without its message, one audit event', async () => {
  const audits: unknown[] = []
  const engine = createTokenExchange({
    policy,
    verifier,
    subjectStatus: { isActive: async () => true },
    minter: {
      mint: () => {
        throw new Error('HSM said: secret-key-material')
      },
    },
    audit: (event) => audits.push(event),
    now: () => NOW,
  })
  await assert.rejects(
    engine.exchange({
      params: exchangeParams(userToken(), { audience: 'app-b' }),
      client: clientA,
    }),
    (err: unknown) => {
      oauthError({ error: 'server_error', statusCode: 500, detail: 'unexpected Error' })(err)
      assert.ok(!(err as Error).message.includes('secret'))
      return true
    },
  )
  assert.equal(audits.length, 1)
  assert.ok(!JSON.stringify(audits).includes('secret-key-material'))
})

test('exchange when status check throws then server_error', async () => {
  const { engine } = buildEngine({
    isActive: () => {
      throw new Error('db down')
    },
  })
  await assert.rejects(
    engine.exchange({
      params: exchangeParams(userToken(), { audience: 'app-b' }),
      client: clientA,
    }),
    oauthError({ error: 'server_error', statusCode: 500 }),
  )
})

test('exchange when audit sink throws then server_error and no token is returned', async () => {
  const engine = createTokenExchange({
    policy,
    verifier,
    subjectStatus: { isActive: async () => true },
    minter: createJwsMinter({ currentSigner: () => signer }),
    audit: () => {
      throw new Error('log full')
    },
    now: () => NOW,
  })
  await assert.rejects(
    engine.exchange({
      params: exchangeParams(userToken(), { audience: 'app-b' }),
      client: clientA,
    }),
    oauthError({ error: 'server_error', statusCode: 500, detail: 'audit sink failed' }),
  )
})

test('createTokenExchange when a dependency is missing then TypeError', () => {
  assert.throws(
    () =>
      createTokenExchange({
        policy,
        verifier,
        subjectStatus: { isActive: async () => true },
        minter: undefined as never,
        audit: () => {},
      }),
    TypeError,
  )
})

test('exchange audit events never contain token values', async () => {
  const { engine, audits, minted } = buildEngine()
  const tokens: string[] = []
  const run = async (params: Record<string, string | string[]>, client = clientA) => {
    for (const value of Object.values(params))
      if (typeof value === 'string' && value.split('.').length === 3) tokens.push(value)
    await engine.exchange({ params, client }).catch(() => undefined)
  }
  const actor = clientToken('app-a')
  await run(
    exchangeParams(userToken(), {
      audience: 'app-b',
      actor_token: actor,
      actor_token_type: TOKEN_TYPE.ACCESS_TOKEN,
    }),
  )
  await run(exchangeParams(userToken({ exp: NOW - 100 })))
  await run(exchangeParams(userToken(), { audience: 'app-c' }))
  await run(
    exchangeParams(userToken(), {
      audience: 'app-b',
      actor_token: clientToken('app-b'),
      actor_token_type: TOKEN_TYPE.ACCESS_TOKEN,
    }),
  )
  await run(exchangeParams(minted[0]!, { audience: 'app-c' }), clientB)
  tokens.push(...minted)
  assert.equal(audits.length, 5)
  const serialized = JSON.stringify(audits)
  for (const token of tokens) {
    for (const part of token.split('.'))
      assert.ok(!serialized.includes(part), 'audit leaked a token segment')
  }
})
