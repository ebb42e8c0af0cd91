/**
 * The security suite, provenance over syntax: what a token carries (`act`, `may_act`, `cnf`)
 * decides what may be issued from it, never which parameters a request sends. Over HTTP against a
 * live IdP, with a policy variant where app-a exchanges toward app-b in *impersonation* mode — the
 * mode in which Keycloak #52691 handed back a clean token for a delegated one. Each refusal asserts
 * the status, the error and that no token left; each acceptance the claims that must survive.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { decodeJwt, exchangeToken, loginForTokens, type Stack } from '../helpers/stack.js'
import {
  ACCESS_TOKEN,
  ACTOR_INVALID,
  issuedLikeToken,
  JWT,
  postToken,
  startLiveIdp,
  SUBJECT_INVALID,
  USERS,
} from './helpers.js'

/** Every shape of `act` / `may_act` that is not an object with a string `sub`. */
const MALFORMED: readonly unknown[] = [
  null,
  'app-x',
  42,
  true,
  [{ sub: 'app-x' }],
  {},
  { sub: 7 },
  { sub: '' },
  { iss: 'https://idp.example' },
  { sub: 'app-x', act: 'app-y' },
  { sub: 'app-x', act: [{ sub: 'app-y' }] },
  { sub: 'app-x', act: { sub: 'app-y', act: { iss: 'https://idp.example' } } },
  { sub: 'app-x', act: { sub: 'app-y', act: null } },
]

function jktOf(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  // Any valid-looking thumbprint: the point is the binding, which no request here can prove.
  return Buffer.from(JSON.stringify(publicKey.export({ format: 'jwk' })))
    .toString('base64url')
    .slice(0, 43)
}

describe('security suite: provenance over syntax (act, may_act, cnf)', () => {
  let stack: Stack

  before(async () => {
    stack = await startLiveIdp({
      policy(json) {
        json.clients['app-a']!.tokenExchange = {
          enabled: true,
          allowedAudiences: ['app-b'],
          scopeCeiling: ['todos:read'],
          mode: 'impersonation',
          maxLifetimeSeconds: 300,
          serviceIdentities: [USERS.bob],
        }
      },
    })
  })
  after(() => stack?.close())

  const exchange = (subject: string, extra: Record<string, string> = {}) =>
    exchangeToken(
      stack,
      { subject_token: subject, subject_token_type: ACCESS_TOKEN, audience: 'app-b', ...extra },
      { clientId: 'app-a' },
    )

  function assertRefused(
    response: { status: number; body: Record<string, any> },
    error: string,
    description?: string,
    label = '',
  ): void {
    assert.equal(response.status, 400, `${label} ${JSON.stringify(response.body)}`)
    assert.equal(response.body.error, error)
    if (description !== undefined) assert.equal(response.body.error_description, description)
    assert.equal(response.body.access_token, undefined, 'nothing minted')
  }

  describe('RFC 8693 grant: a delegation never vanishes (Keycloak #52691)', () => {
    it('exchange when a plain user token is impersonated (control) then 200 and no act', async () => {
      const demo = await loginForTokens(stack, { username: 'demo' })
      const response = await exchange(demo.access_token)
      assert.equal(response.status, 200, JSON.stringify(response.body))
      const { payload } = decodeJwt(response.body.access_token)
      assert.equal(payload.sub, USERS.demo)
      assert.equal(payload.act, undefined, 'impersonation of a plain token adds no actor')
    })

    it('exchange when the subject carries may_act naming the requester and no actor token is sent then the issued token records the requester in act', async () => {
      const variants: Record<string, string>[] = [
        { audience: 'app-b' },
        { audience: 'app-b', requested_token_type: ACCESS_TOKEN },
        { audience: 'app-b', requested_token_type: JWT },
        { resource: stack.env.APP_B_URL },
      ]
      for (const target of variants) {
        const subject = issuedLikeToken(stack, {
          may_act: { sub: 'app-a', iss: stack.idp.issuer },
        })
        const response = await exchangeToken(
          stack,
          { subject_token: subject, subject_token_type: ACCESS_TOKEN, ...target },
          { clientId: 'app-a' },
        )
        const label = JSON.stringify(target)
        assert.equal(response.status, 200, `${label}: ${JSON.stringify(response.body)}`)
        const { payload } = decodeJwt(response.body.access_token)
        assert.equal(payload.sub, USERS.demo)
        assert.deepEqual(
          payload.act,
          { sub: 'app-a', iss: stack.idp.issuer },
          `${label}: the delegation must not vanish`,
        )
        assert.equal(payload.may_act, undefined, 'may_act is consumed into act')
      }
    })

    it('exchange when the subject carries may_act naming another party and no actor token is sent then invalid_request and nothing minted', async () => {
      const subject = issuedLikeToken(stack, { may_act: { sub: 'assistant' } })
      for (const extra of [{}, { requested_token_type: JWT }] as Record<string, string>[]) {
        assertRefused(await exchange(subject, extra), 'invalid_request', SUBJECT_INVALID)
      }
    })

    it('exchange when the subject carries act and is impersonated without an actor then the chain is kept, whatever the requested type or target parameter', async () => {
      const chain = { sub: 'assistant', iss: stack.idp.issuer }
      const extras: Record<string, string>[] = [
        {},
        { requested_token_type: JWT },
        { requested_token_type: ACCESS_TOKEN },
      ]
      for (const extra of extras) {
        const response = await exchange(issuedLikeToken(stack, { act: chain }), extra)
        assert.equal(response.status, 200, JSON.stringify(response.body))
        assert.deepEqual(decodeJwt(response.body.access_token).payload.act, chain)
      }
      const byResource = await exchangeToken(
        stack,
        {
          subject_token: issuedLikeToken(stack, { act: chain }),
          subject_token_type: ACCESS_TOKEN,
          resource: stack.env.APP_B_URL,
        },
        { clientId: 'app-a' },
      )
      assert.equal(byResource.status, 200, JSON.stringify(byResource.body))
      assert.deepEqual(decodeJwt(byResource.body.access_token).payload.act, chain)
    })

    it('exchange when an impersonating client sends an actor token then the actor is recorded in act (never dropped)', async () => {
      const demo = await loginForTokens(stack, { username: 'demo' })
      const bob = await loginForTokens(stack, { username: 'bob' })
      const response = await exchange(demo.access_token, {
        actor_token: bob.access_token,
        actor_token_type: ACCESS_TOKEN,
      })
      assert.equal(response.status, 200, JSON.stringify(response.body))
      assert.deepEqual(decodeJwt(response.body.access_token).payload.act, {
        sub: 'app-a',
        iss: stack.idp.issuer,
      })
    })

    it("exchange when may_act names the actor token's sub then the issued token records the delegation in act and may_act is consumed", async () => {
      const bob = await loginForTokens(stack, { username: 'bob' })
      const subject = issuedLikeToken(stack, { may_act: { sub: USERS.bob } })
      const first = await exchange(subject, {
        actor_token: bob.access_token,
        actor_token_type: ACCESS_TOKEN,
      })
      assert.equal(first.status, 200, JSON.stringify(first.body))
      const delegated = first.body.access_token as string
      assert.equal((decodeJwt(delegated).payload.act as { sub: string }).sub, 'app-a')
      assert.equal(decodeJwt(delegated).payload.may_act, undefined, 'may_act is consumed into act')
    })
  })

  describe('RFC 8693 grant: act and may_act of any other shape are refused', () => {
    it('exchange when the subject carries a malformed act or may_act then invalid_request and nothing minted', async () => {
      for (const value of MALFORMED) {
        assertRefused(
          await exchange(issuedLikeToken(stack, { act: value })),
          'invalid_request',
          SUBJECT_INVALID,
        )
        assertRefused(
          await exchange(issuedLikeToken(stack, { may_act: value })),
          'invalid_request',
          SUBJECT_INVALID,
        )
      }
    })

    it('exchange when the actor token carries a malformed act or may_act then invalid_request (actor) and nothing minted', async () => {
      const demo = await loginForTokens(stack, { username: 'demo' })
      const control = issuedLikeToken(stack, { sub: USERS.bob })
      const accepted = await exchange(demo.access_token, {
        actor_token: control,
        actor_token_type: ACCESS_TOKEN,
      })
      assert.equal(accepted.status, 200, `control: ${JSON.stringify(accepted.body)}`)
      for (const value of MALFORMED) {
        for (const claim of ['act', 'may_act']) {
          const actor = issuedLikeToken(stack, { sub: USERS.bob, [claim]: value })
          assertRefused(
            await exchange(demo.access_token, {
              actor_token: actor,
              actor_token_type: ACCESS_TOKEN,
            }),
            'invalid_request',
            ACTOR_INVALID,
            `${claim}: ${JSON.stringify(value)}`,
          )
        }
      }
    })
  })

  describe('JWT federation grant: no clean re-issue of a delegated or bound token', () => {
    const federation = (assertion: string) =>
      postToken(
        stack,
        new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: 'app-b',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
          scope: 'todos:read',
        }),
      )

    it('federation when the assertion is a plain App A user token (control) then 200', async () => {
      const response = await federation(issuedLikeToken(stack))
      assert.equal(response.status, 200, JSON.stringify(response.body))
      assert.equal(decodeJwt(response.body.access_token).payload.sub, USERS.demo)
    })

    it('federation when the assertion carries act or may_act then invalid_grant and nothing minted', async () => {
      assertRefused(
        await federation(issuedLikeToken(stack, { act: { sub: 'assistant' } })),
        'invalid_grant',
      )
      assertRefused(
        await federation(issuedLikeToken(stack, { may_act: { sub: 'assistant' } })),
        'invalid_grant',
      )
    })

    it('federation when the assertion carries a malformed act or may_act then invalid_grant and nothing minted', async () => {
      for (const value of MALFORMED) {
        assertRefused(await federation(issuedLikeToken(stack, { act: value })), 'invalid_grant')
        assertRefused(await federation(issuedLikeToken(stack, { may_act: value })), 'invalid_grant')
      }
    })

    it('federation when the assertion is DPoP-bound (cnf) then invalid_grant: a stolen bound token is not re-issued without its key', async () => {
      for (const cnf of [{ jkt: jktOf() }, { 'x5t#S256': jktOf() }]) {
        const response = await federation(issuedLikeToken(stack, { cnf }))
        assertRefused(response, 'invalid_grant')
        assert.match(response.body.error_description, /sender-constrained/)
      }
    })
  })
})
