/**
 * Two IdP instances (one issuer) and two STS instances behind nginx, on one PostgreSQL schema and
 * one Redis prefix (test/helpers/topology.ts). Over real HTTP: a sign-in whose steps alternate
 * between the instances completes; a token issued by one instance is exchanged on the other; a
 * token minted by one STS instance verifies with the other's JWKS; the shared abuse limit
 * triggers at the same count whichever instance is hit; a key rotated on one instance is used and
 * published by the other without a failed exchange; logout (grant revoked) on one stops exchanges
 * on both; a todo written through one App B instance is read through the other, and a write
 * repeated on the other instance (or sent to both at once) with its Idempotency-Key is stored once.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { signInWithLoginForm } from '../../src/demo/form_login.js'
import { GRANT_TYPE_TOKEN_EXCHANGE } from '../../src/exchange/token_exchange/types.js'
import { basicAuth, decodeJwt } from '../helpers/stack.js'
import { postgresUnavailable } from '../helpers/postgres.js'
import { redisUnavailable } from '../helpers/redis.js'
import { NGINX, startTopology, type Topology } from '../helpers/topology.js'
import { servicesRequired } from '../helpers/services.js'

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const CLIENT_LIMIT = 100
const skip =
  (await postgresUnavailable()) ??
  (await redisUnavailable()) ??
  (existsSync(NGINX) ? undefined : servicesRequired(`${NGINX} not installed`))

describe(
  'several instances behind nginx on PostgreSQL and Redis',
  { skip, timeout: 180_000 },
  () => {
    let topology: Topology
    before(async () => {
      topology = await startTopology({
        abuseLimits: { tokenPerClient: { max: CLIENT_LIMIT, windowSeconds: 60 } },
      })
    })
    after(() => topology?.close())

    /**
     * Which instance serves each step of a steered sign-in: the authorization request and the
     * resumed authorization (which issues the code) on instance 0, the login form and the code
     * redemption on instance 1.
     */
    const instanceFor = (path: string) => (path === '/auth' || path.startsWith('/auth/') ? 0 : 1)

    /** Signs in as demo for app-a, steered step by step, or plainly through nginx's round-robin. */
    async function signIn(steer: boolean, scope = 'openid todos:read') {
      const served: Array<{ instance: number; method: string; path: string }> = []
      const steering: typeof fetch = async (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input))
        if (!steer || url.origin !== topology.lb.idp) return fetch(url, init)
        const instance = instanceFor(url.pathname)
        const headers = new Headers(init?.headers)
        headers.set('x-test-instance', String(instance))
        const response = await fetch(url, { ...init, headers })
        served.push({ instance, method: init?.method ?? 'GET', path: url.pathname })
        const upstream = response.headers.get('x-upstream')
        assert.equal(upstream, new URL(topology.idpUrls[instance]!).host, 'nginx pinned the step')
        return response
      }
      const tokens = await signInWithLoginForm({
        authorizationEndpoint: `${topology.lb.idp}/auth`,
        tokenEndpoint: `${topology.lb.idp}/token`,
        clientId: 'app-a',
        clientSecret: topology.env.APP_A_CLIENT_SECRET,
        redirectUri: `${topology.env.APP_A_URL}/auth/callback`,
        scope,
        username: 'demo',
        password: 'changeme',
        fetch: steering,
      })
      return { tokens, served }
    }

    async function exchangeAt(base: string, subjectToken: string) {
      const response = await fetch(`${base}/token`, {
        method: 'POST',
        headers: {
          authorization: basicAuth('app-a', topology.env.APP_A_CLIENT_SECRET),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
          subject_token: subjectToken,
          subject_token_type: ACCESS_TOKEN,
          audience: 'app-b',
          scope: 'todos:read',
        }),
      })
      return { status: response.status, body: (await response.json()) as Record<string, string> }
    }

    it('when the steps of a sign-in alternate between the instances then it completes with one issuer', async () => {
      const { tokens, served } = await signIn(true)
      const login = served.find((step) => step.method === 'POST' && step.path.endsWith('/login'))
      const start = served.find((step) => step.path === '/auth')
      const redeem = served.find((step) => step.path === '/token')
      assert.ok(login && start && redeem, JSON.stringify(served))
      assert.equal(new Set(served.map((step) => step.instance)).size, 2, 'both instances served')
      const resume = served.find((step) => step.path.startsWith('/auth/'))
      assert.ok(resume, JSON.stringify(served))
      assert.notEqual(
        login.instance,
        start.instance,
        'the login form was posted to the other instance',
      )
      assert.notEqual(
        redeem.instance,
        resume.instance,
        'the code was redeemed on the other instance',
      )
      assert.equal(decodeJwt(tokens.access_token).payload.iss, topology.lb.idp)
    })

    it('when a token is issued by one IdP instance then the other exchanges it, and the STS instances verify each other', async () => {
      const { tokens } = await signIn(false)
      const [one, two] = topology.idpUrls as [string, string]
      const first = await exchangeAt(two, tokens.access_token)
      assert.equal(first.status, 200, JSON.stringify(first.body))
      // The exchanged token (minted on instance 2, recorded in PostgreSQL) is known to instance 1:
      // exchanging it again there is a policy decision, not an unknown token.
      const introspect = await exchangeAt(one, tokens.access_token)
      assert.equal(introspect.status, 200)

      const [stsOne, stsTwo] = topology.stsUrls as [string, string]
      const minted = await exchangeAt(stsOne, tokens.access_token)
      assert.equal(minted.status, 200, JSON.stringify(minted.body))
      const jwks = await (await fetch(`${stsTwo}/jwks`)).json()
      const { payload, protectedHeader } = await jwtVerify(
        minted.body.access_token!,
        createLocalJWKSet(jwks),
        { issuer: topology.lb.sts, audience: 'app-b' },
      )
      assert.equal(payload.sub, decodeJwt(tokens.access_token).payload.sub)
      assert.ok(protectedHeader.kid)
    })

    it('when one instance rotates the keys then the other signs with the new key and publishes it, no exchange refused', async () => {
      const [idpOne, idpTwo] = topology.idps as [
        (typeof topology.idps)[0],
        (typeof topology.idps)[0],
      ]
      const { tokens } = await signIn(false)
      const oldKid = idpTwo.keys.active.kid
      const rotated = await idpOne.keyStore.rotate()
      assert.notEqual(rotated.active.kid, oldKid)
      // The token signed with the old key still exchanges on both, while the change propagates.
      const statuses: number[] = []
      const deadline = Date.now() + 5000
      while (idpTwo.keys.active.kid !== rotated.active.kid && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        statuses.push(
          (await exchangeAt(topology.idpUrls[statuses.length % 2]!, tokens.access_token)).status,
        )
      }
      assert.equal(idpTwo.keys.active.kid, rotated.active.kid, 'instance 2 follows within 5 s')
      assert.ok(
        statuses.every((status) => status === 200),
        `exchanges during the change: ${statuses}`,
      )
      const minted = await exchangeAt(topology.idpUrls[1]!, tokens.access_token)
      assert.equal(decodeJwt(minted.body.access_token!).header.kid, rotated.active.kid)
      for (const url of topology.idpUrls) {
        const jwks = (await (await fetch(`${url}/jwks`)).json()) as { keys: Array<{ kid: string }> }
        const kids = jwks.keys.map((key) => key.kid)
        assert.ok(kids.includes(rotated.active.kid) && kids.includes(oldKid), `${url}: ${kids}`)
      }
    })

    it('when a token is revoked through one instance then neither instance exchanges it', async () => {
      const { tokens } = await signIn(false)
      const [one, two] = topology.idpUrls as [string, string]
      assert.equal((await exchangeAt(two, tokens.access_token)).status, 200)
      // RFC 7009 revocation on instance 1: the record in PostgreSQL goes, for every instance.
      const revoked = await fetch(`${one}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: basicAuth('app-a', topology.env.APP_A_CLIENT_SECRET),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token: tokens.access_token, token_type_hint: 'access_token' }),
      })
      assert.equal(revoked.status, 200)
      for (const url of [one, two]) {
        const refused = await exchangeAt(url, tokens.access_token)
        assert.equal(refused.status, 400, url)
        assert.equal(refused.body.error, 'invalid_request')
        assert.equal(refused.body.access_token, undefined)
      }
    })

    /** A token for App B with todos:write, exchanged through the load balancer. */
    async function writeToken(): Promise<{ token: string; sub: string }> {
      const { tokens } = await signIn(false, 'openid todos:read todos:write')
      const response = await fetch(`${topology.lb.idp}/token`, {
        method: 'POST',
        headers: {
          authorization: basicAuth('app-a', topology.env.APP_A_CLIENT_SECRET),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
          subject_token: tokens.access_token,
          subject_token_type: ACCESS_TOKEN,
          audience: 'app-b',
          scope: 'todos:read todos:write',
        }),
      })
      const body = (await response.json()) as Record<string, string>
      assert.equal(response.status, 200, JSON.stringify(body))
      return { token: body.access_token!, sub: decodeJwt(body.access_token!).payload.sub as string }
    }

    async function addTodo(base: string, token: string, title: string, key: string) {
      const response = await fetch(`${base}/api/todos`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify({ title }),
      })
      return {
        status: response.status,
        body: (await response.json()) as { replayed?: boolean; todo?: { id: number } },
      }
    }

    async function titlesAt(base: string, token: string): Promise<string[]> {
      const response = await fetch(`${base}/api/todos`, {
        headers: { authorization: `Bearer ${token}` },
      })
      assert.equal(response.status, 200)
      const body = (await response.json()) as { todos: Array<{ title: string }> }
      return body.todos.map((todo) => todo.title)
    }

    it('when a todo is written through one App B instance then the other reads it', async () => {
      const { token } = await writeToken()
      const [one, two] = topology.appBUrls as [string, string]
      const title = `shared ${randomUUID()}`
      const written = await addTodo(one, token, title, randomUUID())
      assert.equal(written.status, 201, JSON.stringify(written.body))
      assert.ok((await titlesAt(two, token)).includes(title), 'instance 2 lists it')
      assert.ok((await titlesAt(topology.lb.appB, token)).includes(title), 'and so does nginx')
    })

    it('when a write is repeated on the other App B instance, or sent to both at once, then it is stored once', async () => {
      const { token } = await writeToken()
      const [one, two] = topology.appBUrls as [string, string]
      const title = `once ${randomUUID()}`
      const key = randomUUID()
      const first = await addTodo(one, token, title, key)
      const again = await addTodo(two, token, title, key)
      assert.deepEqual([first.status, again.status], [201, 200])
      assert.equal(again.body.replayed, true)
      assert.equal(again.body.todo?.id, first.body.todo?.id, 'the stored todo comes back')

      const racing = `race ${randomUUID()}`
      const raceKey = randomUUID()
      const answers = await Promise.all([
        addTodo(one, token, racing, raceKey),
        addTodo(two, token, racing, raceKey),
      ])
      assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 201])
      assert.equal(answers[0]!.body.todo?.id, answers[1]!.body.todo?.id)
      const titles = await titlesAt(one, token)
      assert.equal(titles.filter((t) => t === title).length, 1, 'one todo, not two')
      assert.equal(titles.filter((t) => t === racing).length, 1, 'one todo, not two')
    })

    it('when token requests of one client alternate between instances then the shared limit refuses the same count', async () => {
      const statuses: number[] = []
      for (let i = 0; i < CLIENT_LIMIT + 2; i++) {
        const response = await fetch(`${topology.idpUrls[i % 2]}/token`, {
          method: 'POST',
          headers: {
            authorization: basicAuth('app-b', topology.env.APP_B_CLIENT_SECRET),
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: `bogus-${i}` }),
        })
        statuses.push(response.status)
        await response.arrayBuffer()
      }
      assert.deepEqual(
        statuses,
        [...Array(CLIENT_LIMIT).fill(400), 429, 429],
        'the limit is counted once across both instances, not per instance',
      )
    })
  },
)
