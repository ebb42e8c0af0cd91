/**
 * RFC 8693 conformance over real HTTP, shared by every token endpoint onbehalf runs on the one
 * engine: the embedded IdP (test/idp/token_exchange.test.ts) and the STS trusting that IdP
 * (test/sts/token_exchange.test.ts). A user logs in at the embedded IdP through the login form,
 * app-a exchanges the user's access token at the endpoint under test, and every rule of
 * shared/reference/rfc8693.md that applies to both gets its own request with status, error code
 * and claims checked. Cases that depend on one server (oidc-provider's login tokens, revocation,
 * logout) are passed in by that server's test file as `extraCases`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPairSync, createHmac } from 'node:crypto'
import { createRemoteJWKSet, jwtVerify, SignJWT, exportJWK } from 'jose'
import { createJwsSigner } from '../../src/exchange/index.js'
import {
  loginForTokens,
  decodeJwt,
  basicAuth,
  exchangeToken,
  type Stack,
  type LoginTokens,
} from '../helpers/stack.js'

export const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const SUBJECT_INVALID = 'subject_token is invalid'

/** A token endpoint under test, exchanging tokens that `stack` (the embedded IdP) issued. */
export interface ConformanceTarget {
  /** The embedded IdP: logs users in, issues the subject tokens. */
  readonly stack: Stack
  /** `iss` of exchanged tokens. */
  readonly issuer: string
  readonly tokenEndpoint: string
  readonly jwksUri: string
  /** RFC 8414 / OIDC discovery document of the endpoint under test. */
  readonly discoveryUrl: string
  /** `kid` the endpoint signs exchanged tokens with. */
  activeKid(): Promise<string>
  /** Every log line the endpoint under test wrote. */
  readonly logLines: readonly string[]
  close(): Promise<void>
}

export interface ExchangeAuth {
  clientId?: string
  secret?: string
  /** `null`: no Authorization header at all. */
  authorization?: string | null
}

export interface ExchangeResult {
  status: number
  headers: Headers
  body: Record<string, any>
}

export interface SuiteContext {
  readonly target: ConformanceTarget
  /** demo's login tokens for app-a. */
  readonly demo: LoginTokens
  exchange(params: Record<string, string | string[]>, auth?: ExchangeAuth): Promise<ExchangeResult>
}

/** POSTs an RFC 8693 request (form body, client_secret_basic unless told otherwise). */
export async function postExchange(
  target: ConformanceTarget,
  params: Record<string, string | string[]>,
  auth: ExchangeAuth = {},
): Promise<ExchangeResult> {
  return exchangeToken(target.stack, params, { ...auth, tokenEndpoint: target.tokenEndpoint })
}

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

export function tokenExchangeConformance(
  name: string,
  start: () => Promise<ConformanceTarget>,
  extraCases?: (context: SuiteContext) => void,
): void {
  describe(name, () => {
    let target: ConformanceTarget
    let demo: LoginTokens
    const exchange = (params: Record<string, string | string[]>, auth?: ExchangeAuth) =>
      postExchange(target, params, auth)
    const context: SuiteContext = {
      get target() {
        return target
      },
      get demo() {
        return demo
      },
      exchange,
    }

    before(async () => {
      target = await start()
      demo = await loginForTokens(target.stack, { username: 'demo' })
    })
    after(() => target?.close())

    it('advertises the exchange grant in its metadata', async () => {
      const discovery = (await (await fetch(target.discoveryUrl)).json()) as Record<string, any>
      assert.equal(discovery.issuer, target.issuer)
      assert.ok(discovery.grant_types_supported.includes(TOKEN_EXCHANGE))
      assert.equal(discovery.jwks_uri, target.jwksUri)
    })

    it("happy path: app-a exchanges demo's token for an app-b token that names demo and app-a", async () => {
      const response = await exchange({
        subject_token: demo.access_token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
      })
      assert.equal(response.status, 200, JSON.stringify(response.body))
      assert.equal(response.headers.get('cache-control'), 'no-store')
      assert.equal(response.body.issued_token_type, ACCESS_TOKEN)
      assert.equal(response.body.token_type, 'Bearer')
      assert.equal(response.body.scope, 'todos:read')
      assert.equal(
        response.body.refresh_token,
        undefined,
        'no refresh token from an exchange (S16)',
      )
      assert.ok(response.body.expires_in > 0 && response.body.expires_in <= 300)

      const subject = decodeJwt(demo.access_token).payload
      const jwks = createRemoteJWKSet(new URL(target.jwksUri))
      const { payload, protectedHeader } = await jwtVerify(response.body.access_token, jwks, {
        issuer: target.issuer,
        audience: 'app-b',
        typ: 'at+jwt',
        algorithms: ['ES256'],
      })
      assert.equal(protectedHeader.kid, await target.activeKid())
      assert.equal(payload.sub, subject.sub)
      assert.equal(payload.aud, 'app-b')
      assert.equal(payload.azp, 'app-a')
      assert.equal(payload.client_id, 'app-a')
      assert.deepEqual(payload.act, { sub: 'app-a', iss: target.issuer })
      assert.equal(payload.scope, 'todos:read')
      assert.ok(typeof payload.jti === 'string' && payload.jti !== subject.jti)
      assert.ok(payload.exp! <= (subject.exp as number), 'exp never beyond the subject token (S17)')
      assert.ok(payload.exp! - payload.iat! <= 300, 'exp within the policy maximum')
    })

    it('accepts the target named by its RFC 8707 resource URI', async () => {
      const response = await exchange({
        subject_token: demo.access_token,
        subject_token_type: ACCESS_TOKEN,
        resource: target.stack.env.APP_B_URL,
      })
      assert.equal(response.status, 200, JSON.stringify(response.body))
      assert.equal(decodeJwt(response.body.access_token).payload.aud, 'app-b')
    })

    it('writes an audit event per decision without any token value', async () => {
      const response = await exchange({
        subject_token: demo.access_token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
      })
      assert.equal(response.status, 200)
      await exchange({
        subject_token: demo.access_token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'nowhere',
      })
      const audit = target.logLines
        .filter((line) => line.includes('"audit"'))
        .map((line) => JSON.parse(line).audit)
      assert.ok(
        audit.some(
          (event) =>
            event.outcome === 'issued' && event.audience === 'app-b' && event.clientId === 'app-a',
        ),
      )
      assert.ok(
        audit.some((event) => event.outcome === 'refused' && event.error === 'invalid_target'),
      )
      const everything = target.logLines.join('\n')
      assert.ok(!everything.includes(demo.access_token), 'subject token never logged')
      assert.ok(!everything.includes(response.body.access_token), 'issued token never logged')
      assert.ok(
        !everything.includes(target.stack.env.APP_A_CLIENT_SECRET),
        'client secret never logged',
      )
    })

    describe('request syntax → invalid_request', () => {
      const cases: Array<[string, Record<string, string | string[]>]> = [
        ['missing subject_token', { subject_token_type: ACCESS_TOKEN, audience: 'app-b' }],
        ['missing subject_token_type', { subject_token: 'x.y.z', audience: 'app-b' }],
        [
          'unknown subject_token_type',
          { subject_token: 'x.y.z', subject_token_type: 'urn:example:unknown', audience: 'app-b' },
        ],
        [
          'refresh_token as subject_token_type',
          {
            subject_token: 'abc',
            subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
            audience: 'app-b',
          },
        ],
        [
          'actor_token without actor_token_type',
          {
            subject_token: 'x.y.z',
            subject_token_type: ACCESS_TOKEN,
            actor_token: 'a.b.c',
            audience: 'app-b',
          },
        ],
        [
          'actor_token_type without actor_token',
          {
            subject_token: 'x.y.z',
            subject_token_type: ACCESS_TOKEN,
            actor_token_type: ACCESS_TOKEN,
            audience: 'app-b',
          },
        ],
        [
          'a refresh token requested',
          {
            subject_token: 'x.y.z',
            subject_token_type: ACCESS_TOKEN,
            audience: 'app-b',
            requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
          },
        ],
        [
          'an id token requested',
          {
            subject_token: 'x.y.z',
            subject_token_type: ACCESS_TOKEN,
            audience: 'app-b',
            requested_token_type: 'urn:ietf:params:oauth:token-type:id_token',
          },
        ],
        [
          'resource with a fragment',
          {
            subject_token: 'x.y.z',
            subject_token_type: ACCESS_TOKEN,
            resource: 'https://app-b.example/#x',
          },
        ],
      ]
      for (const [caseName, params] of cases) {
        it(caseName, async () => {
          const response = await exchange(params)
          assert.equal(response.status, 400, JSON.stringify(response.body))
          assert.equal(response.body.error, 'invalid_request')
          assert.equal(response.body.access_token, undefined)
        })
      }

      for (const parameter of [
        'subject_token',
        'subject_token_type',
        'scope',
        'requested_token_type',
      ]) {
        it(`duplicated ${parameter}`, async () => {
          const params: Record<string, string | string[]> = {
            subject_token: demo.access_token,
            subject_token_type: ACCESS_TOKEN,
            audience: 'app-b',
            scope: 'todos:read',
            requested_token_type: ACCESS_TOKEN,
          }
          params[parameter] = [String(params[parameter]), String(params[parameter])]
          const response = await exchange(params)
          assert.equal(response.status, 400)
          assert.equal(response.body.error, 'invalid_request')
        })
      }

      it('an oversized subject token is refused, never dropped (S4)', async () => {
        const response = await exchange({
          subject_token: `${demo.access_token}${'A'.repeat(12_000)}`,
          subject_token_type: ACCESS_TOKEN,
          audience: 'app-b',
        })
        assert.equal(response.status, 400)
        assert.equal(response.body.error, 'invalid_request')
      })

      it('a body beyond the token endpoint limit is refused with invalid_request', async () => {
        const response = await exchange({
          subject_token: 'A'.repeat(70_000),
          subject_token_type: ACCESS_TOKEN,
          audience: 'app-b',
        })
        assert.equal(response.status, 400)
        assert.equal(response.body.error, 'invalid_request')
      })
    })

    describe('subject token validation → invalid_request with one fixed description (S19, S20)', () => {
      const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const idpKey = () => target.stack.idp.keys.active

      async function signed(
        payload: Record<string, unknown>,
        header: Record<string, unknown> = {},
        key = idpKey().privateKey,
      ) {
        return new SignJWT(payload)
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: idpKey().kid, ...header })
          .sign(key)
      }
      const subjectClaims = () => {
        const now = Math.floor(Date.now() / 1000)
        return { ...decodeJwt(demo.access_token).payload, iat: now, exp: now + 300 }
      }

      const cases: Array<[string, () => Promise<string>]> = [
        [
          'tampered signature',
          async () => {
            const [h, p, s] = demo.access_token.split('.')
            return `${h}.${p}.${s!.slice(0, -4)}${s!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`
          },
        ],
        [
          'tampered payload (sub changed to alice)',
          async () => {
            const [h, , s] = demo.access_token.split('.')
            const payload = {
              ...decodeJwt(demo.access_token).payload,
              sub: '8c1f4e2a-0b7d-4e93-a5c6-2f8b9d0e1a02',
            }
            return `${h}.${b64(payload)}.${s}`
          },
        ],
        [
          'alg: none',
          async () => `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(subjectClaims())}.`,
        ],
        [
          'HS256 signed with the public key as secret',
          async () => {
            const jwk = idpKey().publicJwk
            const header = b64({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid })
            const payload = b64(subjectClaims())
            const secret = idpKey().publicKey.export({ format: 'pem', type: 'spki' })
            const mac = createHmac('sha256', secret)
              .update(`${header}.${payload}`)
              .digest('base64url')
            return `${header}.${payload}.${mac}`
          },
        ],
        [
          "self-signed token claiming the IdP's issuer (unknown key)",
          async () => signed(subjectClaims(), { kid: 'attacker' }, otherKey.privateKey),
        ],
        [
          'token from an unknown issuer',
          async () =>
            signed(
              { ...subjectClaims(), iss: 'https://evil.example' },
              { kid: 'attacker' },
              otherKey.privateKey,
            ),
        ],
        [
          'jwk header pointing at the attacker key',
          async () =>
            signed(
              subjectClaims(),
              { kid: undefined, jwk: await exportJWK(otherKey.publicKey) },
              otherKey.privateKey,
            ),
        ],
        [
          'crit header',
          async () =>
            createJwsSigner({
              alg: 'ES256',
              kid: idpKey().kid,
              privateKey: idpKey().privateKey,
            }).sign({ typ: 'at+jwt', crit: ['x-unknown'], 'x-unknown': true }, subjectClaims()),
        ],
        ['expired token', async () => signed({ ...subjectClaims(), iat: 1_000, exp: 2_000 })],
        ['an ID token as subject', async () => demo.id_token],
        ['a garbage string', async () => 'not-a-jwt'],
      ]
      for (const [caseName, makeToken] of cases) {
        it(caseName, async () => {
          const response = await exchange({
            subject_token: await makeToken(),
            subject_token_type: ACCESS_TOKEN,
            audience: 'app-b',
          })
          assert.equal(response.status, 400, JSON.stringify(response.body))
          assert.equal(response.body.error, 'invalid_request')
          assert.equal(response.body.error_description, SUBJECT_INVALID)
          assert.equal(response.body.access_token, undefined)
        })
      }

      it("a token not addressed to the requester (app-b's login token, exchanged by app-a) (S2)", async () => {
        const appBLogin = await loginForTokens(target.stack, {
          clientId: 'app-b',
          username: 'demo',
          scope: 'openid profile',
        })
        const response = await exchange({
          subject_token: appBLogin.access_token,
          subject_token_type: ACCESS_TOKEN,
          audience: 'app-b',
        })
        assert.equal(response.status, 400)
        assert.equal(response.body.error, 'invalid_request')
      })
    })

    describe('policy', () => {
      it("an audience outside the client's policy → invalid_target (S1)", async () => {
        const own = await exchange({
          subject_token: demo.access_token,
          subject_token_type: ACCESS_TOKEN,
          audience: 'app-a',
        })
        const unknown = await exchange({
          subject_token: demo.access_token,
          subject_token_type: ACCESS_TOKEN,
          audience: 'payroll',
        })
        for (const response of [own, unknown]) {
          assert.equal(response.status, 400)
          assert.equal(response.body.error, 'invalid_target')
        }
        assert.equal(
          own.body.error_description,
          unknown.body.error_description,
          'no oracle on which targets exist',
        )
      })

      it('two targets in one request → invalid_target', async () => {
        const response = await exchange({
          subject_token: demo.access_token,
          subject_token_type: ACCESS_TOKEN,
          audience: ['app-b', 'app-a'],
        })
        assert.equal(response.status, 400)
        assert.equal(response.body.error, 'invalid_target')
      })

      it('scope widening beyond the client ceiling → invalid_scope (S15)', async () => {
        const response = await exchange({
          subject_token: demo.access_token,
          subject_token_type: ACCESS_TOKEN,
          audience: 'app-b',
          scope: 'todos:read todos:write',
        })
        assert.equal(response.status, 400)
        assert.equal(response.body.error, 'invalid_scope')
      })

      it('a client whose policy does not enable exchange → unauthorized_client', async () => {
        const appBLogin = await loginForTokens(target.stack, {
          clientId: 'app-b',
          username: 'demo',
          scope: 'openid profile',
        })
        const response = await exchange(
          {
            subject_token: appBLogin.access_token,
            subject_token_type: ACCESS_TOKEN,
            audience: 'app-a',
          },
          { clientId: 'app-b' },
        )
        assert.equal(response.status, 400)
        assert.equal(response.body.error, 'unauthorized_client')
      })

      it('an exchanged app-b token cannot be exchanged again by app-a (not addressed to it)', async () => {
        const first = await exchange({
          subject_token: demo.access_token,
          subject_token_type: ACCESS_TOKEN,
          audience: 'app-b',
        })
        const second = await exchange({
          subject_token: first.body.access_token,
          subject_token_type: ACCESS_TOKEN,
          audience: 'app-b',
        })
        assert.equal(second.status, 400)
        assert.equal(second.body.error, 'invalid_request')
      })
    })

    describe('client authentication (S6)', () => {
      const params = () => ({
        subject_token: demo.access_token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
      })
      it('no client authentication (a public caller) → invalid_client', async () => {
        const response = await exchange(
          { ...params(), client_id: 'app-a' },
          { authorization: null },
        )
        assert.equal(response.status, 401)
        assert.equal(response.body.error, 'invalid_client')
      })
      it('an unknown client → invalid_client', async () => {
        const response = await exchange(params(), {
          authorization: basicAuth('mallory', 'x'.repeat(40)),
        })
        assert.equal(response.status, 401)
        assert.equal(response.body.error, 'invalid_client')
      })
      it('a wrong secret → invalid_client', async () => {
        const response = await exchange(params(), {
          clientId: 'app-a',
          secret: 'wrong-secret-wrong-secret-wrong-secret',
        })
        assert.equal(response.status, 401)
        assert.equal(response.body.error, 'invalid_client')
      })
    })

    extraCases?.(context)
  })
}
