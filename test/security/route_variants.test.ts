/**
 * Issue 12 item 1: the abuse limits attach to the route oidc-provider serves, however the path is
 * spelled. oidc-provider matches static paths case-insensitively and once more without a trailing
 * slash, so `/TOKEN`, `/Token/` and `/TOKEN/REVOCATION` are its token and revocation endpoints: on
 * main they skipped the per-IP and per-client limits and the body-size check (700 of 700 `/TOKEN`
 * requests got 200 after `/token` answered 429). Spellings oidc-provider does not serve
 * (`/%74oken`, `//token`) stay 404. The STS's limits are Fastify route hooks, checked here too.
 * Everything over real HTTP (node:http, so the path is sent byte for byte).
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { buildSts } from '../../src/sts/app.js'
import { bindSocket } from '../helpers/listen.js'
import { basicAuth, type Stack } from '../helpers/stack.js'
import { captureLogger, loadConfig, stsConfigJson, tempDir } from '../sts/helpers.js'
import { startLiveIdp } from './helpers.js'

interface RawResponse {
  status: number
  body: string
  headers: Record<string, string | string[] | undefined>
}

/** A POST with the path exactly as given (fetch would normalise it). */
function rawPost(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(Buffer.byteLength(body)),
          ...headers,
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve({ status: res.statusCode!, body: text, headers: res.headers }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

const CLIENT_CREDENTIALS = 'grant_type=client_credentials&resource=' // resource filled per stack

/** Spellings oidc-provider serves as its token endpoint family (shown by the 200/400 below). */
const SERVED_TOKEN_PATHS = ['/TOKEN', '/Token', '/token/', '/TOKEN/', '/tOkEn?x=1']
const SERVED_REVOCATION_PATHS = ['/TOKEN/REVOCATION', '/token/revocation/', '/Token/Revocation/']
/** Spellings oidc-provider does not serve (the last one is a Kelvin sign): 404, never a token. */
const UNSERVED_PATHS = ['/%74oken', '//token', '/token//', '/token;x', '/to%6Ben', '/to%E2%84%AAen']

function clientCredentials(stack: Stack): string {
  return CLIENT_CREDENTIALS + encodeURIComponent(stack.env.APP_B_URL)
}

describe('token endpoint limits by route, not by spelling', () => {
  let perIp: Stack
  let perIpLog: ReturnType<typeof captureLogger>
  before(async () => {
    perIpLog = captureLogger()
    perIp = await startLiveIdp({
      logger: perIpLog.logger,
      abuseLimits: { tokenPerIp: { max: 3, windowSeconds: 60 } },
    })
  })
  after(async () => {
    await perIp?.close()
  })

  it('tokenLimitsWhenPerIpBudgetIsSpentOnTokenThenEverySpellingIsRefusedWith429AndNoToken', async () => {
    const auth = { authorization: basicAuth('app-a', perIp.env.APP_A_CLIENT_SECRET) }
    for (let i = 0; i < 3; i++) {
      const ok = await rawPost(perIp.idp.issuer, '/token', clientCredentials(perIp), auth)
      assert.equal(ok.status, 200, ok.body)
      assert.match(ok.body, /"access_token"/)
    }
    for (const path of [...SERVED_TOKEN_PATHS, ...SERVED_REVOCATION_PATHS, '/request']) {
      const refused = await rawPost(perIp.idp.issuer, path, clientCredentials(perIp), auth)
      assert.equal(refused.status, 429, `${path}: ${refused.status} ${refused.body}`)
      assert.equal(JSON.parse(refused.body).error, 'temporarily_unavailable')
      assert.match(String(refused.headers['retry-after']), /^[1-9]\d*$/)
      assert.doesNotMatch(refused.body, /access_token/, `${path} must not issue a token`)
    }
    assert.ok(
      !perIpLog.lines.some((line) => line.includes('abuse_limit_bypass')),
      'every served request went through the limits',
    )
  })

  it('tokenLimitsWhenWrongSecretsArePostedToUppercaseTokenThenTheyCountAndThe4thIs429', async () => {
    const stack = await startLiveIdp({ abuseLimits: { tokenPerIp: { max: 3, windowSeconds: 60 } } })
    try {
      const wrong = { authorization: basicAuth('app-a', 'guess-guess-guess-guess-guess-guess') }
      const statuses: number[] = []
      for (let i = 0; i < 4; i++) {
        statuses.push(
          (await rawPost(stack.idp.issuer, '/TOKEN', clientCredentials(stack), wrong)).status,
        )
      }
      assert.deepEqual(statuses, [401, 401, 401, 429])
      // The budget is one per IP whatever the spelling: /token is refused as well.
      const good = { authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET) }
      const after = await rawPost(stack.idp.issuer, '/token', clientCredentials(stack), good)
      assert.equal(after.status, 429)
      assert.doesNotMatch(after.body, /access_token/)
    } finally {
      await stack.close()
    }
  })

  it('tokenLimitsWhenPerClientBudgetIsSpentThenOtherSpellingsOfTheRouteAreRefusedToo', async () => {
    const stack = await startLiveIdp({
      abuseLimits: {
        tokenPerIp: { max: 1000, windowSeconds: 60 },
        tokenPerClient: { max: 2, windowSeconds: 60 },
      },
    })
    try {
      const auth = { authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET) }
      assert.equal(
        (await rawPost(stack.idp.issuer, '/Token/', clientCredentials(stack), auth)).status,
        200,
      )
      assert.equal(
        (await rawPost(stack.idp.issuer, '/TOKEN', clientCredentials(stack), auth)).status,
        200,
      )
      for (const path of ['/token', '/TOKEN', '/token/']) {
        const refused = await rawPost(stack.idp.issuer, path, clientCredentials(stack), auth)
        assert.equal(refused.status, 429, path)
        assert.doesNotMatch(refused.body, /access_token/)
      }
    } finally {
      await stack.close()
    }
  })

  it('tokenLimitsWhenA50KBodyIsPostedToAnySpellingThenInvalidRequestBeforeItIsRead', async () => {
    const stack = await startLiveIdp()
    try {
      const auth = { authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET) }
      const big = `${clientCredentials(stack)}&pad=${'A'.repeat(50 * 1024)}`
      for (const path of ['/token', '/TOKEN', '/token/', '/TOKEN/REVOCATION']) {
        const refused = await rawPost(stack.idp.issuer, path, big, auth)
        assert.equal(refused.status, 400, `${path}: ${refused.status}`)
        assert.deepEqual(JSON.parse(refused.body), {
          error: 'invalid_request',
          error_description: 'request body is too large',
        })
      }
    } finally {
      await stack.close()
    }
  })

  it('tokenLimitsWhenThePathIsNotOneOidcProviderServesThen404AndNeverAToken', async () => {
    const stack = await startLiveIdp()
    try {
      const auth = { authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET) }
      for (const path of UNSERVED_PATHS) {
        const response = await rawPost(stack.idp.issuer, path, clientCredentials(stack), auth)
        assert.equal(response.status, 404, `${path}: ${response.status} ${response.body}`)
        assert.doesNotMatch(response.body, /access_token/)
      }
    } finally {
      await stack.close()
    }
  })
})

describe('STS token endpoint limits by route, not by spelling', () => {
  it('stsLimitsWhenPerIpBudgetIsSpentThenNoSpellingReachesTheTokenEndpoint', async () => {
    const keyDir = tempDir()
    const socket = await bindSocket()
    const config = loadConfig({
      ...stsConfigJson({
        issuer: socket.url,
        keyDir: keyDir.path,
        upstream: { issuer: 'https://idp.invalid', jwksUri: 'https://idp.invalid/jwks' },
      }),
      tokenRequestsPerMinutePerIp: 2,
    })
    const app = await buildSts(config, { logger: captureLogger().logger })
    await socket.serve(app)
    try {
      const statuses = []
      for (let i = 0; i < 2; i++)
        statuses.push((await rawPost(socket.url, '/token', 'grant_type=x')).status)
      assert.deepEqual(statuses, [401, 401])
      for (const path of ['/token', '/%74oken', '/TOKEN', '/token/', '//token', '/Token/']) {
        const response = await rawPost(socket.url, path, 'grant_type=x')
        // Fastify routes case- and slash-sensitively: a spelling is the route (limited) or nothing.
        assert.ok(
          response.status === 429 || response.status === 404,
          `${path}: ${response.status} ${response.body}`,
        )
        assert.notEqual(response.status, 401, `${path} reached client authentication`)
      }
    } finally {
      await socket.close()
      await app.close()
      keyDir.remove()
    }
  })
})
