/**
 * Server-issued DPoP nonces (RFC 9449 §8 at a token endpoint, §9 at a resource server), over real
 * HTTP: App B with APP_B_DPOP_NONCE=on, the IdP's RFC 8693 grant and the STS with `dpop.nonce` in
 * app-a's policy. A proof without a nonce, with a stale one or a forged one is refused
 * (`use_dpop_nonce` and a fresh nonce in `DPoP-Nonce`) and nothing is served or minted; the
 * client kit retries once with the nonce it was given and sends the origin's latest nonce from
 * then on; two App B instances sharing DPOP_NONCE_SECRET accept each other's nonces.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildAppB } from '../../src/apps/app-b/app.js'
import { createDpopKey, fetchWithDpop, type DpopKey } from '../../src/client/dpop.js'
import { createTokenExchangeClient, TokenExchangeError } from '../../src/client/index.js'
import { createDpopNonces } from '../../src/jwt/dpop_nonce.js'
import { createLogger } from '../../src/log/logger.js'
import { buildSts } from '../../src/sts/app.js'
import { parseStsConfig } from '../../src/sts/config.js'
import { bindSocket, type BoundSocket } from '../helpers/listen.js'
import {
  clientSecretOf,
  decodeJwt,
  exchangeToken,
  loginForTokens,
  startStack,
  type Stack,
} from '../helpers/stack.js'
import { tempDir } from '../sts/helpers.js'

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const SECRET = 'dpop-nonce-test-secret-0123456789-0123456789'
const WINDOW = 300
/** What the servers hand out: the same secret, so the test can make stale and current nonces. */
const nonces = createDpopNonces({ secret: SECRET, windowSeconds: WINDOW })
const nowSeconds = () => Math.floor(Date.now() / 1000)
const staleNonce = () => nonces.current(nowSeconds() - 3 * WINDOW)
const wrongNonce = () =>
  createDpopNonces({ secret: 'another-secret-altogether-0123456789-01' }).current(nowSeconds())

let stack: Stack
let policyDir: string
const logLines: string[] = []

interface Audit {
  event: string
  outcome: string
  error?: string
  issuedJti?: string
}

function lastExchangeAudit(): Audit {
  const audits = logLines
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as { audit?: Audit }]
      } catch {
        return []
      }
    })
    .flatMap((entry) => (entry.audit?.event === 'token_exchange' ? [entry.audit] : []))
  assert.ok(audits.length > 0, 'an audit event was written')
  return audits.at(-1)!
}

/** A fetch that counts the requests it sends. */
function countingFetch() {
  const calls: string[] = []
  const fetchImpl: typeof fetch = async (input, init) => {
    calls.push(String(input))
    return fetch(input, init)
  }
  return { calls, fetch: fetchImpl }
}

before(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(...chunk.toString().split('\n').filter(Boolean))
      done()
    },
  })
  const policy = JSON.parse(readFileSync('config/policy.json', 'utf8'))
  policy.clients['app-a'].tokenExchange.dpop = { nonce: true }
  policyDir = mkdtempSync(join(tmpdir(), 'onbehalf-dpop-nonce-'))
  writeFileSync(join(policyDir, 'policy.json'), JSON.stringify(policy))
  stack = await startStack({
    logger: createLogger({ level: 'info' }, sink),
    env: {
      POLICY_FILE: join(policyDir, 'policy.json'),
      DPOP_NONCE_SECRET: SECRET,
      DPOP_NONCE_WINDOW_SECONDS: String(WINDOW),
      APP_B_DPOP_NONCE: 'on',
    },
  })
})
after(async () => {
  await stack.close()
  rmSync(policyDir, { recursive: true, force: true })
})

describe('DPoP nonce at the IdP token endpoint (RFC 9449 §8)', () => {
  let tokenEndpoint: string
  let subjectToken: string
  let key: DpopKey

  before(async () => {
    tokenEndpoint = `${stack.idp.issuer}/token`
    subjectToken = (await loginForTokens(stack)).access_token
    key = await createDpopKey()
  })

  const params = () => ({
    subject_token: subjectToken,
    subject_token_type: ACCESS_TOKEN,
    audience: 'app-b',
  })

  async function assertNonceDemanded(nonce: string | undefined) {
    const proof = await key.proof({
      method: 'POST',
      url: tokenEndpoint,
      ...(nonce === undefined ? {} : { nonce }),
    })
    const response = await exchangeToken(stack, params(), { headers: { dpop: proof } })
    assert.equal(response.status, 400, JSON.stringify(response.body))
    assert.equal(response.body.error, 'use_dpop_nonce')
    assert.equal(response.body.access_token, undefined, 'no token minted')
    const fresh = response.headers.get('dpop-nonce')
    assert.ok(fresh, 'a fresh nonce in DPoP-Nonce')
    assert.equal(nonces.check(fresh, nowSeconds()), 'ok', 'the nonce is one the IdP accepts')
    const audit = lastExchangeAudit()
    assert.equal(audit.outcome, 'refused')
    assert.equal(audit.error, 'use_dpop_nonce')
    assert.equal(audit.issuedJti, undefined, 'the audit records no issued token')
    return fresh
  }

  it('exchangeWhenProofCarriesNoNonceThen400UseDpopNonceWithDpopNonceAndNothingMinted', async () => {
    await assertNonceDemanded(undefined)
  })

  it('exchangeWhenNonceIsStaleThenUseDpopNonce', async () => {
    await assertNonceDemanded(staleNonce())
  })

  it('exchangeWhenNonceIsForgedThenUseDpopNonce', async () => {
    await assertNonceDemanded(wrongNonce())
  })

  it('exchangeWhenProofCarriesTheNonceHandedOutThenBoundTokenIssued', async () => {
    const fresh = await assertNonceDemanded(undefined)
    const response = await exchangeToken(stack, params(), {
      headers: { dpop: await key.proof({ method: 'POST', url: tokenEndpoint, nonce: fresh }) },
    })
    assert.equal(response.status, 200, JSON.stringify(response.body))
    assert.equal(response.body.token_type, 'DPoP')
    assert.deepEqual(decodeJwt(response.body.access_token).payload.cnf, { jkt: key.jkt })
    assert.equal(lastExchangeAudit().outcome, 'issued')
  })

  it('clientKitWhenNonceDemandedThenRetriesOnceAndRemembersTheNonceForTheOrigin', async () => {
    const counting = countingFetch()
    const dpop = await createDpopKey()
    const client = createTokenExchangeClient({
      tokenEndpoint,
      clientId: 'app-a',
      clientSecret: clientSecretOf(stack.env, 'app-a'),
      dpop,
      fetch: counting.fetch,
    })
    const first = await client.exchange({ subjectToken, audience: 'app-b' })
    assert.equal(counting.calls.length, 2, 'refused once for the nonce, then issued')
    assert.equal(first.jkt, dpop.jkt)
    assert.equal(first.tokenType, 'DPoP')
    // The next exchange sends the remembered nonce at once: one request.
    const second = await client.exchange({ subjectToken, audience: 'app-b', scope: 'todos:read' })
    assert.equal(counting.calls.length, 3, 'no second refusal')
    assert.deepEqual(decodeJwt(second.accessToken).payload.cnf, { jkt: dpop.jkt })
  })

  it('clientKitWhenTheRetryIsRefusedTooThenTheErrorSurfacesAfterOneRetry', async () => {
    const counting = countingFetch()
    // A server that keeps demanding a nonce: every answer is a refusal with a new nonce.
    const stubborn: typeof fetch = async (input) => {
      counting.calls.push(String(input))
      return new Response(JSON.stringify({ error: 'use_dpop_nonce' }), {
        status: 400,
        headers: { 'content-type': 'application/json', 'dpop-nonce': nonces.current(nowSeconds()) },
      })
    }
    const client = createTokenExchangeClient({
      tokenEndpoint,
      clientId: 'app-a',
      clientSecret: clientSecretOf(stack.env, 'app-a'),
      dpop: await createDpopKey(),
      fetch: stubborn,
    })
    await assert.rejects(
      client.exchange({ subjectToken, audience: 'app-b' }),
      (err: unknown) => err instanceof TokenExchangeError && err.error === 'use_dpop_nonce',
    )
    assert.equal(counting.calls.length, 2, 'one retry, not a loop')
  })
})

describe('DPoP nonce at the STS token endpoint (RFC 9449 §8)', () => {
  let sts: FastifyInstance
  let socket: BoundSocket
  let keyDir: { path: string; remove(): void }
  let tokenEndpoint: string
  let subjectToken: string

  before(async () => {
    keyDir = tempDir()
    socket = await bindSocket()
    const config = parseStsConfig(
      {
        issuer: socket.url,
        keys: { directory: keyDir.path },
        upstreams: { embedded: { issuer: stack.idp.issuer, algorithms: ['ES256'] } },
        targets: { 'app-b': { resourceUris: ['${APP_B_URL}'], scopes: ['todos:read'] } },
        clients: {
          'app-a': {
            secretEnv: 'APP_A_CLIENT_SECRET',
            tokenExchange: {
              enabled: true,
              allowedAudiences: ['app-b'],
              scopeCeiling: ['todos:read'],
              dpop: { nonce: true },
            },
          },
        },
      },
      stack.env as unknown as Record<string, string>,
      'nonce test',
    )
    sts = await buildSts(config, { logger: createLogger({ level: 'silent' }), dpopNonces: nonces })
    await socket.serve(sts)
    tokenEndpoint = `${socket.url}/token`
    subjectToken = (await loginForTokens(stack)).access_token
  })
  after(async () => {
    await socket.close()
    await sts.close()
    keyDir.remove()
  })

  for (const [label, nonce] of [
    ['missing', () => undefined],
    ['stale', staleNonce],
    ['forged', wrongNonce],
  ] as const) {
    it(`stsWhenNonceIs${label[0]!.toUpperCase()}${label.slice(1)}Then400UseDpopNonceAndNothingMinted`, async () => {
      const key = await createDpopKey()
      const given = nonce()
      const response = await exchangeToken(
        stack,
        { subject_token: subjectToken, subject_token_type: ACCESS_TOKEN, audience: 'app-b' },
        {
          tokenEndpoint,
          headers: {
            dpop: await key.proof({
              method: 'POST',
              url: tokenEndpoint,
              ...(given === undefined ? {} : { nonce: given }),
            }),
          },
        },
      )
      assert.equal(response.status, 400, JSON.stringify(response.body))
      assert.equal(response.body.error, 'use_dpop_nonce')
      assert.equal(response.body.access_token, undefined, 'no token minted')
      assert.equal(nonces.check(response.headers.get('dpop-nonce'), nowSeconds()), 'ok')
    })
  }

  it('stsWhenClientKitRetriesWithTheNonceThenBoundTokenIssued', async () => {
    const counting = countingFetch()
    const dpop = await createDpopKey()
    const result = await createTokenExchangeClient({
      tokenEndpoint,
      clientId: 'app-a',
      clientSecret: clientSecretOf(stack.env, 'app-a'),
      dpop,
      fetch: counting.fetch,
    }).exchange({ subjectToken, audience: 'app-b' })
    assert.equal(counting.calls.length, 2)
    assert.deepEqual(decodeJwt(result.accessToken).payload.cnf, { jkt: dpop.jkt })
  })
})

describe('DPoP nonce at App B, the resource kit (RFC 9449 §9)', () => {
  let appB: FastifyInstance
  let second: FastifyInstance
  let secondSocket: BoundSocket
  let key: DpopKey
  let boundToken: string
  let countUrl: string
  let secondCountUrl: string

  before(async () => {
    appB = await buildAppB({ env: stack.env, logger: createLogger({ level: 'silent' }) })
    await stack.serve('appB', appB)
    // A second instance with the same settings, as behind one load balancer: proofs name the
    // public origin (APP_B_URL) whichever instance receives them.
    second = await buildAppB({ env: stack.env, logger: createLogger({ level: 'silent' }) })
    secondSocket = await bindSocket()
    await secondSocket.serve(second)
    countUrl = `${stack.env.APP_B_URL}/api/todos/count`
    secondCountUrl = `${secondSocket.url}/api/todos/count`
    key = await createDpopKey()
    const client = createTokenExchangeClient({
      tokenEndpoint: `${stack.idp.issuer}/token`,
      clientId: 'app-a',
      clientSecret: clientSecretOf(stack.env, 'app-a'),
      dpop: key,
    })
    const login = await loginForTokens(stack, { scope: 'openid todos:read' })
    boundToken = (await client.exchange({ subjectToken: login.access_token, audience: 'app-b' }))
      .accessToken
  })
  after(async () => {
    await secondSocket.close()
    await second.close()
    await appB.close()
  })

  async function call(nonce: string | undefined, url = countUrl) {
    const proof = await key.proof({
      method: 'GET',
      url: countUrl,
      accessToken: boundToken,
      ...(nonce === undefined ? {} : { nonce }),
    })
    return fetch(url, { headers: { authorization: `DPoP ${boundToken}`, dpop: proof } })
  }

  async function assertNonceDemanded(response: Response) {
    assert.equal(response.status, 401)
    const body = (await response.json()) as Record<string, unknown>
    assert.equal(body.error, 'use_dpop_nonce')
    assert.equal(body.count, undefined, 'no todo data')
    const challenge = response.headers.get('www-authenticate') ?? ''
    assert.match(challenge, /^DPoP realm="app-b"/)
    assert.match(challenge, /error="use_dpop_nonce"/)
    const fresh = response.headers.get('dpop-nonce')
    assert.equal(nonces.check(fresh, nowSeconds()), 'ok', 'a fresh nonce in DPoP-Nonce')
    return fresh!
  }

  it('resourceWhenProofCarriesNoNonceThen401UseDpopNonceChallengeAndDpopNonce', async () => {
    await assertNonceDemanded(await call(undefined))
  })

  it('resourceWhenNonceIsStaleThenUseDpopNonce', async () => {
    await assertNonceDemanded(await call(staleNonce()))
  })

  it('resourceWhenNonceIsForgedThenUseDpopNonce', async () => {
    await assertNonceDemanded(await call(wrongNonce()))
  })

  it('resourceWhenProofCarriesTheNonceHandedOutThen200', async () => {
    const fresh = await assertNonceDemanded(await call(undefined))
    const response = await call(fresh)
    assert.equal(response.status, 200)
    assert.equal(
      ((await response.json()) as { user: string }).user,
      decodeJwt(boundToken).payload.sub,
    )
  })

  it('resourceWhenAnotherInstanceSharingTheSecretHandedOutTheNonceThenItIsAccepted', async () => {
    const fresh = await assertNonceDemanded(await call(undefined, secondCountUrl))
    const response = await call(fresh)
    assert.equal(response.status, 200, 'the nonce of instance 2 is good at instance 1')
  })

  it('clientKitWhenResourceDemandsANonceThenFetchWithDpopRetriesOnceAndRemembersIt', async () => {
    const counting = countingFetch()
    const fresh = await createDpopKey()
    // A key without a remembered nonce for App B's origin: refused once, then served.
    const client = createTokenExchangeClient({
      tokenEndpoint: `${stack.idp.issuer}/token`,
      clientId: 'app-a',
      clientSecret: clientSecretOf(stack.env, 'app-a'),
      dpop: fresh,
    })
    const login = await loginForTokens(stack, { scope: 'openid todos:read' })
    const { accessToken, jkt } = await client.exchange({
      subjectToken: login.access_token,
      audience: 'app-b',
    })
    const first = await fetchWithDpop(fresh, countUrl, { accessToken, jkt, fetch: counting.fetch })
    assert.equal(first.status, 200)
    assert.equal(counting.calls.length, 2, 'refused for the nonce once, then served')
    const again = await fetchWithDpop(fresh, countUrl, { accessToken, jkt, fetch: counting.fetch })
    assert.equal(again.status, 200)
    assert.equal(counting.calls.length, 3, 'the remembered nonce goes with the next call')
  })
})
