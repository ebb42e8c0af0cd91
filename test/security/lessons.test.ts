/**
 * The security suite, default policy: one `describe` per lesson of shared/reference/rfc8693.md
 * (S1–S20) that the embedded IdP must resist, each run over HTTP against a live IdP. Chains, actor
 * tokens and `may_act` (S7, S8, S14, S17 actor, S18) run with a policy variant in
 * delegation_chains.test.ts; the resource side of S3/S20 in resource_verifier.test.ts.
 */
import assert from 'node:assert/strict'
import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import {
  basicAuth,
  decodeJwt,
  exchangeToken,
  loginForTokens,
  type LoginTokens,
  type Stack,
} from '../helpers/stack.js'
import {
  ACCESS_TOKEN,
  accessTokenClaims,
  b64,
  ID_TOKEN,
  issuedLikeToken,
  JWT,
  REFRESH_TOKEN,
  signJwt,
  startLiveIdp,
  SUBJECT_INVALID,
  postToken,
} from './helpers.js'

type Params = Record<string, string | string[]>

describe('security suite: RFC 8693 lessons at the embedded IdP', () => {
  let stack: Stack
  let demo: LoginTokens
  const exchange = (params: Params, auth?: Parameters<typeof exchangeToken>[2]) =>
    exchangeToken(stack, params, auth)
  const forDemo = (extra: Params = {}): Params => ({
    subject_token: demo.access_token,
    subject_token_type: ACCESS_TOKEN,
    audience: 'app-b',
    ...extra,
  })

  function assertRefused(
    response: Awaited<ReturnType<typeof exchange>>,
    error: string,
    status = 400,
  ): void {
    assert.equal(response.status, status, JSON.stringify(response.body))
    assert.equal(response.body.error, error)
    assert.equal(typeof response.body.error_description, 'string')
    assert.equal(response.body.access_token, undefined, 'no token on refusal')
  }

  before(async () => {
    stack = await startLiveIdp()
    demo = await loginForTokens(stack, {
      username: 'demo',
      scope: 'openid profile offline_access todos:read',
    })
  })
  after(() => stack?.close())

  describe('S1 per-client audiences (Keycloak CVE-2022-1245)', () => {
    it('S1 per-client audiences: a configured target outside the client policy is invalid_target', async () => {
      assertRefused(await exchange(forDemo({ audience: 'app-a' })), 'invalid_target')
    })
    it('S1 per-client audiences: an unknown audience and an unknown resource are invalid_target, same text', async () => {
      const audience = await exchange(forDemo({ audience: 'payroll' }))
      const resource = await exchange(
        forDemo({ audience: [], resource: 'https://payroll.example' }),
      )
      assertRefused(audience, 'invalid_target')
      assertRefused(resource, 'invalid_target')
      assert.equal(audience.body.error_description, resource.body.error_description)
    })
    it('S1 per-client audiences: the resource URI of a target outside the policy is invalid_target', async () => {
      assertRefused(
        await exchange(forDemo({ audience: [], resource: stack.env.APP_A_URL })),
        'invalid_target',
      )
    })
  })

  describe('S2 subject addressed to the requester (Zitadel CVE-2026-56668)', () => {
    it("S2 subject audience binding: app-b's login token exchanged by app-a is invalid_request", async () => {
      const appB = await loginForTokens(stack, {
        clientId: 'app-b',
        username: 'demo',
        scope: 'openid todos:read todos:write',
      })
      const response = await exchange(forDemo({ subject_token: appB.access_token }))
      assertRefused(response, 'invalid_request')
      assert.equal(response.body.error_description, SUBJECT_INVALID)
    })
    it('S2 subject audience binding: a token exchanged for app-b cannot be re-exchanged by app-a', async () => {
      const first = await exchange(forDemo())
      assert.equal(first.status, 200)
      assertRefused(
        await exchange(forDemo({ subject_token: first.body.access_token })),
        'invalid_request',
      )
    })
  })

  describe('S3 explicit typing (Keycloak CVE-2023-0657)', () => {
    it('S3 explicit typing: an ID token as subject_token is invalid_request', async () => {
      assertRefused(await exchange(forDemo({ subject_token: demo.id_token })), 'invalid_request')
    })
    it('S3 explicit typing: an ID token sent with subject_token_type id_token is invalid_request', async () => {
      assertRefused(
        await exchange(forDemo({ subject_token: demo.id_token, subject_token_type: ID_TOKEN })),
        'invalid_request',
      )
    })
    it('S3 explicit typing: a logout token (events claim) signed by the IdP is invalid_request', async () => {
      const logout = issuedLikeToken(
        stack,
        {
          events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        },
        { typ: 'logout+jwt' },
      )
      const asAccessType = issuedLikeToken(stack, {
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      })
      for (const token of [logout, asAccessType]) {
        const response = await exchange(forDemo({ subject_token: token }))
        assertRefused(response, 'invalid_request')
        assert.equal(response.body.error_description, SUBJECT_INVALID)
      }
    })
    it('S3 explicit typing: a refresh token posing as an access token is invalid_request', async () => {
      assert.ok(demo.refresh_token)
      assertRefused(
        await exchange(forDemo({ subject_token: demo.refresh_token! })),
        'invalid_request',
      )
      assertRefused(
        await exchange(
          forDemo({ subject_token: demo.refresh_token!, subject_token_type: REFRESH_TOKEN }),
        ),
        'invalid_request',
      )
    })
    it('S3 explicit typing: a JWT with typ JWT (not at+jwt) is invalid_request even when registered', async () => {
      const token = issuedLikeToken(stack, {}, { typ: 'JWT' })
      assertRefused(await exchange(forDemo({ subject_token: token })), 'invalid_request')
    })
  })

  describe('S4 present parameters are never dropped (Keycloak CVE-2026-9704)', () => {
    it('S4 never drop: an oversized subject_token is invalid_request, not a client-credentials token', async () => {
      const response = await exchange(
        forDemo({ subject_token: `${demo.access_token}${'A'.repeat(9000)}` }),
      )
      assertRefused(response, 'invalid_request')
      assert.match(response.body.error_description, /subject_token/)
    })
    it('S4 never drop: an oversized actor_token next to a valid subject is invalid_request', async () => {
      const response = await exchange(
        forDemo({ actor_token: 'A'.repeat(9000), actor_token_type: ACCESS_TOKEN }),
      )
      assertRefused(response, 'invalid_request')
    })
    it('S4 never drop: an oversized scope or audience is invalid_request', async () => {
      assertRefused(await exchange(forDemo({ scope: 'x'.repeat(2000) })), 'invalid_request')
      assertRefused(await exchange(forDemo({ audience: 'x'.repeat(2000) })), 'invalid_request')
    })
    it('S4 never drop: an empty actor_token with actor_token_type is invalid_request', async () => {
      assertRefused(
        await exchange(forDemo({ actor_token: '', actor_token_type: ACCESS_TOKEN })),
        'invalid_request',
      )
    })
  })

  describe('S5 one decision point for every path (Keycloak V2 external exchange)', () => {
    it('S5 one decision point: audience, resource and the default target are all held to the policy', async () => {
      const byAudience = await exchange(forDemo())
      const byResource = await exchange(forDemo({ audience: [], resource: stack.env.APP_B_URL }))
      const byDefault = await exchange(forDemo({ audience: [] }))
      for (const response of [byAudience, byResource, byDefault]) {
        assert.equal(response.status, 200, JSON.stringify(response.body))
        assert.equal(decodeJwt(response.body.access_token).payload.aud, 'app-b')
      }
    })
    it('S5 one decision point: the refresh_token grant cannot reach another audience', async () => {
      const response = await postToken(
        stack,
        new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: demo.refresh_token!,
          resource: stack.env.APP_B_URL,
        }),
        { authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET) },
      )
      assertRefused(response, 'invalid_target')
    })
    it('S5 one decision point: the authorization endpoint cannot issue a token for another audience', async () => {
      const authorize = new URL(`${stack.idp.issuer}/auth`)
      authorize.search = new URLSearchParams({
        client_id: 'app-a',
        redirect_uri: `${stack.env.APP_A_URL}/auth/callback`,
        response_type: 'code',
        scope: 'openid todos:read',
        resource: stack.env.APP_B_URL,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }).toString()
      const response = await fetch(authorize, { redirect: 'manual' })
      const location = response.headers.get('location') ?? ''
      assert.match(location, /error=invalid_target/, `redirected to ${location}`)
    })
  })

  describe('S6 confidential clients only (Keycloak public-client warning)', () => {
    it('S6 confidential clients: no client authentication is invalid_client 401', async () => {
      assertRefused(
        await exchange({ ...forDemo(), client_id: 'app-a' }, { authorization: null }),
        'invalid_client',
        401,
      )
    })
    it('S6 confidential clients: a wrong secret and an unknown client are invalid_client 401', async () => {
      assertRefused(
        await exchange(forDemo(), { secret: 'wrong-secret-wrong-secret-wrong-secret!' }),
        'invalid_client',
        401,
      )
      assertRefused(
        await exchange(forDemo(), { authorization: basicAuth('mallory', 'x'.repeat(40)) }),
        'invalid_client',
        401,
      )
    })
    it('S6 confidential clients: a secret in the body is still checked (oidc-provider accepts post for basic clients)', async () => {
      const response = await exchange(
        {
          ...forDemo(),
          client_id: 'app-a',
          client_secret: 'wrong-secret-wrong-secret-wrong-secret!',
        },
        { authorization: null },
      )
      assertRefused(response, 'invalid_client', 401)
    })
  })

  describe('S7 actor tokens signed and issuer-bound (Entra CVE-2025-55241)', () => {
    // Real actor tokens (service identities) are in delegation_chains.test.ts.
    const cases: Array<[string, (s: Stack) => string]> = [
      [
        'unsigned (alg none)',
        (s) =>
          `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(accessTokenClaims(s, { sub: 'app-a' }))}.`,
      ],
      [
        'signed by a foreign issuer',
        (s) => {
          const key = generateKeyPairSync('ec', { namedCurve: 'P-256' })
          return signJwt(
            s,
            accessTokenClaims(s, { iss: 'https://evil.example', sub: 'app-a' }),
            {},
            { kid: 'evil', privateKey: key.privateKey },
          )
        },
      ],
      [
        'claiming our issuer with a foreign key',
        (s) => {
          const key = generateKeyPairSync('ec', { namedCurve: 'P-256' })
          return signJwt(
            s,
            accessTokenClaims(s, { sub: 'app-a' }),
            {},
            { kid: s.idp.keys.active.kid, privateKey: key.privateKey },
          )
        },
      ],
      [
        'signed with the IdP key but never issued (stolen key)',
        (s) => signJwt(s, accessTokenClaims(s, { sub: 'app-a' })),
      ],
    ]
    for (const [name, make] of cases) {
      it(`S7 actor tokens: an actor token ${name} is invalid_request`, async () => {
        const response = await exchange(
          forDemo({ actor_token: make(stack), actor_token_type: ACCESS_TOKEN }),
        )
        assertRefused(response, 'invalid_request')
        assert.equal(response.body.error_description, 'actor_token is invalid')
      })
    }
  })

  describe('S9 client assertions (CVE-2025-27370/27371, RFC 10070)', () => {
    // No client is registered for private_key_jwt or client_secret_jwt: assertions are refused
    // whatever their audience. These tests pin that; the audience rule would apply if one were.
    for (const [name, aud] of [
      ['a foreign audience', 'https://other-as.example/token'],
      ['our own issuer as audience', 'ISSUER'],
    ] as const) {
      it(`S9 client assertions: a client_secret_jwt assertion with ${name} is invalid_client`, async () => {
        const now = Math.floor(Date.now() / 1000)
        const header = b64({ alg: 'HS256', typ: 'JWT' })
        const payload = b64({
          iss: 'app-a',
          sub: 'app-a',
          aud: aud === 'ISSUER' ? stack.idp.issuer : aud,
          jti: randomUUID(),
          iat: now,
          exp: now + 60,
        })
        const mac = createHmac('sha256', stack.env.APP_A_CLIENT_SECRET)
          .update(`${header}.${payload}`)
          .digest('base64url')
        const response = await exchange(
          {
            ...forDemo(),
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: `${header}.${payload}.${mac}`,
          },
          { authorization: null },
        )
        assertRefused(response, 'invalid_client', 401)
      })
    }
  })

  describe('S10 unknown crit headers (Authlib CVE-2025-59420)', () => {
    it('S10 crit: a subject token with a crit header is invalid_request even when signed and registered', async () => {
      const token = issuedLikeToken(stack, {}, { crit: ['x-unknown'], 'x-unknown': true })
      const response = await exchange(forDemo({ subject_token: token }))
      assertRefused(response, 'invalid_request')
      assert.equal(response.body.error_description, SUBJECT_INVALID)
    })
    it('S10 crit: an actor token with a crit header is invalid_request', async () => {
      const token = issuedLikeToken(stack, { sub: 'app-a' }, { crit: ['b64'], b64: false })
      assertRefused(
        await exchange(forDemo({ actor_token: token, actor_token_type: ACCESS_TOKEN })),
        'invalid_request',
      )
    })
  })

  describe('S15 scopes never widen (Spring AS, early Zitadel)', () => {
    it('S15 scope ceiling: a scope beyond the client ceiling is invalid_scope', async () => {
      assertRefused(await exchange(forDemo({ scope: 'todos:write' })), 'invalid_scope')
    })
    it('S15 scope ceiling: a scope the subject token lacks is invalid_scope', async () => {
      const narrow = issuedLikeToken(stack, { scope: 'openid' })
      assertRefused(
        await exchange(forDemo({ subject_token: narrow, scope: 'todos:read' })),
        'invalid_scope',
      )
      assertRefused(await exchange(forDemo({ subject_token: narrow })), 'invalid_scope')
    })
    it('S15 scope ceiling: without a scope the grant is subject ∩ ceiling ∩ target', async () => {
      const wide = issuedLikeToken(stack, { scope: 'openid todos:read todos:write admin' })
      const response = await exchange(forDemo({ subject_token: wide }))
      assert.equal(response.status, 200, JSON.stringify(response.body))
      assert.equal(response.body.scope, 'todos:read')
      assert.equal(decodeJwt(response.body.access_token).payload.scope, 'todos:read')
    })
  })

  describe('S16 no refresh token from exchange (identity-chaining draft)', () => {
    it('S16 no refresh token: even with offline_access on the subject, none is issued', async () => {
      assert.match(String(decodeJwt(demo.access_token).payload.scope), /todos:read/)
      const response = await exchange(forDemo())
      assert.equal(response.status, 200)
      assert.equal(response.body.refresh_token, undefined)
      assert.equal(response.headers.get('cache-control'), 'no-store')
    })
    it('S16 no refresh token: requested_token_type refresh_token is invalid_request', async () => {
      assertRefused(
        await exchange(forDemo({ requested_token_type: REFRESH_TOKEN })),
        'invalid_request',
      )
    })
  })

  describe('S17 exchanged tokens never outlive their subject (Txn-Token draft)', () => {
    it('S17 lifetime: exp is capped at a subject exp shorter than the policy lifetime', async () => {
      const now = Math.floor(Date.now() / 1000)
      const shortLived = issuedLikeToken(stack, { exp: now + 45 })
      const response = await exchange(forDemo({ subject_token: shortLived }))
      assert.equal(response.status, 200, JSON.stringify(response.body))
      const { exp } = decodeJwt(response.body.access_token).payload
      assert.ok(Number(exp) <= now + 45, `exp ${exp} beyond subject exp ${now + 45}`)
      assert.ok(response.body.expires_in <= 45)
    })
    it('S17 lifetime: a real login token yields exp ≤ its own exp and ≤ the 300 s policy cap', async () => {
      const response = await exchange(forDemo())
      const issued = Number(decodeJwt(response.body.access_token).payload.exp)
      const subjectExp = Number(decodeJwt(demo.access_token).payload.exp)
      assert.ok(issued <= subjectExp)
      assert.ok(response.body.expires_in <= 300)
    })
  })

  describe('S19 fixed descriptions, no oracle', () => {
    it('S19 no oracle: unknown, expired, revoked, tampered and garbage subjects answer the same body', async () => {
      const now = Math.floor(Date.now() / 1000)
      const revoked = await loginForTokens(stack, { username: 'alice' })
      const revocation = await fetch(`${stack.idp.issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token: revoked.access_token }),
      })
      assert.equal(revocation.status, 200)
      const [h, p, s] = demo.access_token.split('.') as [string, string, string]
      const subjects = [
        signJwt(stack, accessTokenClaims(stack)), // unknown jti
        issuedLikeToken(stack, { iat: now - 4000, exp: now - 3600 }), // expired
        revoked.access_token, // revoked
        `${h}.${b64({ ...decodeJwt(demo.access_token).payload, sub: 'someone-else' })}.${s}`, // tampered
        `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`, // bad signature
        'garbage',
      ]
      const bodies = new Set<string>()
      for (const subject of subjects) {
        const response = await exchange(forDemo({ subject_token: subject }))
        assertRefused(response, 'invalid_request')
        bodies.add(JSON.stringify(response.body))
      }
      assert.deepEqual(
        [...bodies],
        [JSON.stringify({ error: 'invalid_request', error_description: SUBJECT_INVALID })],
      )
    })
  })

  describe('S20 JWT hygiene at the token endpoint (RFC 8725)', () => {
    const hostile: Array<[string, (s: Stack) => string]> = [
      ['alg none', (s) => `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(accessTokenClaims(s))}.`],
      [
        'HS256 keyed with the public key (RS/HS confusion)',
        (s) => {
          const header = b64({ alg: 'HS256', typ: 'at+jwt', kid: s.idp.keys.active.kid })
          const payload = b64(accessTokenClaims(s))
          const secret = s.idp.keys.active.publicKey.export({ format: 'pem', type: 'spki' })
          return `${header}.${payload}.${createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')}`
        },
      ],
      [
        'kid injection (path traversal)',
        (s) => issuedLikeToken(s, {}, { kid: '../../../../dev/null' }),
      ],
      [
        'jku header naming an attacker key set',
        (s) => issuedLikeToken(s, {}, { jku: 'https://evil.example/jwks' }),
      ],
      ['x5u header', (s) => issuedLikeToken(s, {}, { x5u: 'https://evil.example/cert.pem' })],
      ['embedded jwk header', (s) => issuedLikeToken(s, {}, { jwk: s.idp.keys.active.publicJwk })],
      ['missing aud', (s) => issuedLikeToken(s, { aud: undefined })],
      ['missing exp', (s) => issuedLikeToken(s, { exp: undefined })],
      [
        'nbf in the future',
        (s) => issuedLikeToken(s, { nbf: Math.floor(Date.now() / 1000) + 3600 }),
      ],
    ]
    for (const [name, make] of hostile) {
      it(`S20 JWT hygiene: a subject token with ${name} is invalid_request`, async () => {
        const response = await exchange(forDemo({ subject_token: make(stack) }))
        assertRefused(response, 'invalid_request')
        assert.equal(response.body.error_description, SUBJECT_INVALID)
      })
    }
  })

  describe('token types (issue 5 item 3)', () => {
    it('token types: requested_token_type jwt is issued with issued_token_type jwt and token_type Bearer', async () => {
      const response = await exchange(forDemo({ requested_token_type: JWT }))
      assert.equal(response.status, 200, JSON.stringify(response.body))
      assert.equal(response.body.issued_token_type, JWT)
      assert.equal(response.body.token_type, 'Bearer')
      assert.equal(decodeJwt(response.body.access_token).header.typ, 'at+jwt')
    })
    it('token types: the default is access_token with token_type Bearer (never N_A: every result is an access token)', async () => {
      const response = await exchange(forDemo())
      assert.equal(response.body.issued_token_type, ACCESS_TOKEN)
      assert.equal(response.body.token_type, 'Bearer')
    })
    it('token types: a subject_token_type of jwt is accepted for a JWT access token', async () => {
      const response = await exchange(forDemo({ subject_token_type: JWT }))
      assert.equal(response.status, 200, JSON.stringify(response.body))
    })
    for (const type of [
      ID_TOKEN,
      REFRESH_TOKEN,
      'urn:ietf:params:oauth:token-type:saml2',
      'urn:example:unknown',
    ]) {
      it(`token types: requested_token_type ${type.split(':').pop()} is invalid_request`, async () => {
        const response = await exchange(forDemo({ requested_token_type: type }))
        assertRefused(response, 'invalid_request')
        assert.equal(response.body.error_description, 'requested_token_type is not supported')
      })
    }
  })
})
