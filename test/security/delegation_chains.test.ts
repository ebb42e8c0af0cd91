/**
 * The security suite, delegation chains: a policy variant where app-a → app-b → app-c → app-d →
 * app-e → app-f each may exchange toward the next service (and app-b back to app-a), app-a has a
 * service identity (bob's account) for actor tokens. Lessons S7, S8 (actor token identifies the
 * client, `may_act`), S14 (depth cap 4, cycles), S17 (exp ≤ subject and actor) and S18 (a
 * re-exchange preserves and extends `act`), all over HTTP against a live IdP.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  decodeJwt,
  exchangeToken,
  loginForTokens,
  type LoginTokens,
  type Stack,
} from '../helpers/stack.js'
import {
  ACCESS_TOKEN,
  ACTOR_INVALID,
  addService,
  EXTRA_CLIENT_SECRET,
  issuedLikeToken,
  startLiveIdp,
  SUBJECT_INVALID,
  USERS,
} from './helpers.js'

const HOPS = ['app-a', 'app-b', 'app-c', 'app-d', 'app-e', 'app-f'] as const

describe('security suite: delegation chains, actor tokens and may_act (policy variant)', () => {
  let stack: Stack
  let demo: LoginTokens

  before(async () => {
    stack = await startLiveIdp({
      policy(json) {
        // Long policy lifetimes, so S17 sees the subject's and the actor's exp as the binding caps.
        json.exchange = { ...json.exchange, maxLifetimeSeconds: 3600, maxChainDepth: 4 }
        json.clients['app-a']!.tokenExchange = {
          enabled: true,
          allowedAudiences: ['app-b'],
          scopeCeiling: ['todos:read'],
          mode: 'delegation',
          maxLifetimeSeconds: 3600,
          serviceIdentities: [USERS.bob],
        }
        json.clients['app-b']!.tokenExchange = {
          enabled: true,
          allowedAudiences: ['app-c', 'app-a'],
          scopeCeiling: ['todos:read'],
          serviceIdentities: [USERS.alice],
        }
        for (const [index, id] of HOPS.entries()) {
          if (index < 2) continue
          const next = HOPS[index + 1]
          addService(
            json,
            id,
            next === undefined
              ? { enabled: false }
              : { enabled: true, allowedAudiences: [next], scopeCeiling: ['todos:read'] },
          )
        }
      },
    })
    demo = await loginForTokens(stack, { username: 'demo' })
  })
  after(() => stack?.close())

  const authOf = (clientId: string) =>
    clientId === 'app-a' || clientId === 'app-b'
      ? { clientId }
      : { clientId, secret: EXTRA_CLIENT_SECRET }

  async function hop(
    from: string,
    to: string,
    subject: string,
    extra: Record<string, string> = {},
  ) {
    return exchangeToken(
      stack,
      { subject_token: subject, subject_token_type: ACCESS_TOKEN, audience: to, ...extra },
      authOf(from),
    )
  }

  /** Exchanges demo's token along HOPS until `depth` hops are done; returns every issued token. */
  async function chain(depth: number): Promise<string[]> {
    const tokens: string[] = []
    let subject = demo.access_token
    for (let i = 0; i < depth; i++) {
      const response = await hop(HOPS[i]!, HOPS[i + 1]!, subject)
      assert.equal(response.status, 200, `hop ${i + 1}: ${JSON.stringify(response.body)}`)
      subject = response.body.access_token
      tokens.push(subject)
    }
    return tokens
  }

  describe('S18 re-exchange preserves and extends the chain', () => {
    it('S18 chain preserved: A → B → C yields sub = user, aud = app-c, act = {app-b, act: {app-a}}', async () => {
      const [, toC] = await chain(2)
      const { payload } = decodeJwt(toC!)
      assert.equal(payload.sub, USERS.demo)
      assert.equal(payload.aud, 'app-c')
      assert.equal(payload.client_id, 'app-b')
      assert.deepEqual(payload.act, {
        sub: 'app-b',
        iss: stack.idp.issuer,
        act: { sub: 'app-a', iss: stack.idp.issuer },
      })
    })
    it('S18 chain preserved: every hop keeps all earlier actors, current actor outermost', async () => {
      const tokens = await chain(4)
      tokens.forEach((token, index) => {
        const actors: string[] = []
        for (let act = decodeJwt(token).payload.act as any; act; act = act.act) actors.push(act.sub)
        assert.deepEqual(actors, HOPS.slice(0, index + 1).reverse())
      })
    })
  })

  describe('S14 chain depth cap and cycles', () => {
    it('S14 depth cap: a fifth hop (act depth 5 > 4) is invalid_request', async () => {
      const tokens = await chain(4)
      const fifth = await hop('app-e', 'app-f', tokens[3]!)
      assert.equal(fifth.status, 400, JSON.stringify(fifth.body))
      assert.equal(fifth.body.error, 'invalid_request')
      assert.equal(fifth.body.error_description, SUBJECT_INVALID)
      assert.equal(fifth.body.access_token, undefined)
    })
    it('S14 cycle: A → B → A → B (app-a twice in act) is invalid_request', async () => {
      const [toB] = await chain(1)
      const backToA = await hop('app-b', 'app-a', toB!)
      assert.equal(backToA.status, 200, JSON.stringify(backToA.body))
      const again = await hop('app-a', 'app-b', backToA.body.access_token)
      assert.equal(again.status, 400, JSON.stringify(again.body))
      assert.equal(again.body.error, 'invalid_request')
      assert.equal(again.body.access_token, undefined)
    })
    it('S14 cycle: a crafted subject whose act already repeats a party is invalid_request', async () => {
      const looped = issuedLikeToken(stack, {
        act: { sub: 'app-x', act: { sub: 'app-y', act: { sub: 'app-x' } } },
      })
      const response = await hop('app-a', 'app-b', looped)
      assert.equal(response.status, 400)
      assert.equal(response.body.error, 'invalid_request')
    })
    it('S14 depth cap: a crafted subject with a deep act chain is invalid_request', async () => {
      let act: Record<string, unknown> = { sub: 'svc-0' }
      for (let i = 1; i < 40; i++) act = { sub: `svc-${i}`, act }
      const response = await hop('app-a', 'app-b', issuedLikeToken(stack, { act }))
      assert.equal(response.status, 400)
      assert.equal(response.body.error, 'invalid_request')
    })
  })

  describe('S7 actor tokens', () => {
    it("S7 actor tokens: the client's own service identity token (issued, signed) is accepted", async () => {
      const actor = await loginForTokens(stack, { username: 'bob' })
      const response = await hop('app-a', 'app-b', demo.access_token, {
        actor_token: actor.access_token,
        actor_token_type: ACCESS_TOKEN,
      })
      assert.equal(response.status, 200, JSON.stringify(response.body))
      const { payload } = decodeJwt(response.body.access_token)
      assert.equal(payload.sub, USERS.demo)
      assert.equal((payload.act as { sub: string }).sub, 'app-a')
    })
    it('S7 actor tokens: a revoked actor token is invalid_request', async () => {
      const actor = await loginForTokens(stack, { username: 'bob' })
      const revoke = await fetch(`${stack.idp.issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`app-a:${stack.env.APP_A_CLIENT_SECRET}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token: actor.access_token }),
      })
      assert.equal(revoke.status, 200)
      const response = await hop('app-a', 'app-b', demo.access_token, {
        actor_token: actor.access_token,
        actor_token_type: ACCESS_TOKEN,
      })
      assert.equal(response.status, 400)
      assert.equal(response.body.error_description, ACTOR_INVALID)
    })
  })

  describe('S8 delegation chain splicing', () => {
    it('S8 delegation chain splicing: actor token of another client is refused', async () => {
      // alice's token is app-b's service identity, not app-a's.
      const foreign = await loginForTokens(stack, { username: 'alice' })
      const response = await hop('app-a', 'app-b', demo.access_token, {
        actor_token: foreign.access_token,
        actor_token_type: ACCESS_TOKEN,
      })
      assert.equal(response.status, 400, JSON.stringify(response.body))
      assert.equal(response.body.error, 'invalid_request')
      assert.equal(response.body.error_description, ACTOR_INVALID)
    })
    it('S8 delegation chain splicing: an actor token naming another client id as sub is refused', async () => {
      const appB = issuedLikeToken(stack, { sub: 'app-b', aud: 'app-b', client_id: 'app-b' })
      const response = await hop('app-a', 'app-b', demo.access_token, {
        actor_token: appB,
        actor_token_type: ACCESS_TOKEN,
      })
      assert.equal(response.status, 400)
      assert.equal(response.body.error_description, ACTOR_INVALID)
    })
    it('S8 may_act: a subject whose may_act names another party is refused for app-a', async () => {
      const subject = issuedLikeToken(stack, { may_act: { sub: 'app-c', iss: stack.idp.issuer } })
      const response = await hop('app-a', 'app-b', subject)
      assert.equal(response.status, 400, JSON.stringify(response.body))
      assert.equal(response.body.error, 'invalid_request')
      assert.equal(response.body.error_description, SUBJECT_INVALID)
    })
    it('S8 may_act: may_act naming app-a under another issuer is refused', async () => {
      const subject = issuedLikeToken(stack, {
        may_act: { sub: 'app-a', iss: 'https://other.example' },
      })
      const response = await hop('app-a', 'app-b', subject)
      assert.equal(response.status, 400)
      assert.equal(response.body.error, 'invalid_request')
    })
    it('S8 may_act: may_act naming the requester (sub and iss) is honoured', async () => {
      const subject = issuedLikeToken(stack, { may_act: { sub: 'app-a', iss: stack.idp.issuer } })
      const response = await hop('app-a', 'app-b', subject)
      assert.equal(response.status, 200, JSON.stringify(response.body))
    })
    it("S8 may_act: with an actor token, may_act must name the actor token's sub", async () => {
      const actor = await loginForTokens(stack, { username: 'bob' })
      const namesClient = issuedLikeToken(stack, { may_act: { sub: 'app-a' } })
      const namesActor = issuedLikeToken(stack, {
        may_act: { sub: USERS.bob, iss: stack.idp.issuer },
      })
      const refused = await hop('app-a', 'app-b', namesClient, {
        actor_token: actor.access_token,
        actor_token_type: ACCESS_TOKEN,
      })
      assert.equal(refused.status, 400)
      assert.equal(refused.body.error_description, ACTOR_INVALID)
      const accepted = await hop('app-a', 'app-b', namesActor, {
        actor_token: actor.access_token,
        actor_token_type: ACCESS_TOKEN,
      })
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body))
    })
    it('S8 may_act: a malformed may_act (names nobody) is refused', async () => {
      const response = await hop('app-a', 'app-b', issuedLikeToken(stack, { may_act: {} }))
      assert.equal(response.status, 400)
      assert.equal(response.body.error, 'invalid_request')
    })
  })

  describe('S17 exp ≤ subject and actor', () => {
    it("S17 lifetime: with a policy cap of one hour, exp equals the subject's exp", async () => {
      const response = await hop('app-a', 'app-b', demo.access_token)
      assert.equal(response.status, 200)
      assert.equal(
        decodeJwt(response.body.access_token).payload.exp,
        decodeJwt(demo.access_token).payload.exp,
      )
    })
    it('S17 lifetime: an actor token that expires first caps the issued exp', async () => {
      const now = Math.floor(Date.now() / 1000)
      const actor = issuedLikeToken(stack, { sub: USERS.bob, exp: now + 40 })
      const response = await hop('app-a', 'app-b', demo.access_token, {
        actor_token: actor,
        actor_token_type: ACCESS_TOKEN,
      })
      assert.equal(response.status, 200, JSON.stringify(response.body))
      assert.equal(decodeJwt(response.body.access_token).payload.exp, now + 40)
    })
    it('S17 lifetime: every hop of a chain expires no later than the hop before', async () => {
      const tokens = await chain(4)
      let previous = Number(decodeJwt(demo.access_token).payload.exp)
      for (const token of tokens) {
        const exp = Number(decodeJwt(token).payload.exp)
        assert.ok(exp <= previous)
        previous = exp
      }
    })
  })
})
