/**
 * Issue 12, item 6: a key rotation takes effect without a restart, with zero refused exchanges.
 * Under a steady stream of token exchanges against the running IdP and STS (and client_credentials
 * tokens, which oidc-provider itself signs), `onbehalf keys rotate` and `onbehalf sts rotate-keys`
 * run as the real CLI in another process. Every exchange must succeed; tokens minted after the
 * rotation carry the new `kid`; tokens minted before still verify; both JWKS publish both keys.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import {
  basicAuth,
  decodeJwt,
  exchangeToken,
  loginForTokens,
  startStack,
  type Stack,
} from '../helpers/stack.js'

const run = promisify(execFile)
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'

/** The CLI as a user runs it, in its own process, on the stack's data folder. */
async function cli(stack: Stack, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: stack.env.DATA_DIR,
      IDP_ISSUER: stack.env.IDP_ISSUER,
      STS_ISSUER: stack.env.STS_ISSUER,
      APP_B_URL: stack.env.APP_B_URL,
    },
  })
  return stdout
}

interface Minted {
  readonly source: 'idp' | 'sts' | 'client_credentials'
  readonly startedAt: number
  readonly status: number
  readonly token?: string
  readonly kid?: string
}

describe('key rotation without a restart (issue 12, item 6)', () => {
  let stack: Stack
  before(async () => {
    stack = await startStack({ apps: true })
  })
  after(async () => {
    await stack?.close()
  })

  const jwksOf = async (url: string) =>
    (await (await fetch(url)).json()) as JSONWebKeySet & { keys: Array<{ kid: string }> }

  it('when the IdP and STS keys are rotated under a stream of exchanges then none is refused and new tokens carry the new kid', async () => {
    const idpIssuer = stack.idp.issuer
    const stsIssuer = stack.env.STS_ISSUER
    const idpKidBefore = stack.idp.keys.active.kid
    const stsKidBefore = (await jwksOf(`${stsIssuer}/jwks`)).keys[0]!.kid
    const login = await loginForTokens(stack, { scope: 'openid todos:read' })

    const minted: Minted[] = []
    let stop = false
    const epoch = performance.now()
    const epochWallMs = Date.now()
    /** When a key file was last written, on the stream's time line. */
    const writtenAt = (file: string) => statSync(file).mtimeMs - epochWallMs
    const record = (source: Minted['source'], startedAt: number, status: number, token?: string) =>
      minted.push({
        source,
        startedAt,
        status,
        token,
        kid: token ? (decodeJwt(token).header.kid as string) : undefined,
      })
    const exchangeAt = async (source: 'idp' | 'sts') => {
      const startedAt = performance.now() - epoch
      const response = await exchangeToken(
        stack,
        {
          subject_token: login.access_token,
          subject_token_type: ACCESS_TOKEN,
          audience: 'app-b',
          scope: 'todos:read',
        },
        source === 'sts' ? { tokenEndpoint: `${stsIssuer}/token` } : {},
      )
      record(source, startedAt, response.status, response.body.access_token)
    }
    const clientCredentials = async () => {
      const startedAt = performance.now() - epoch
      const response = await fetch(`${idpIssuer}/token`, {
        method: 'POST',
        headers: {
          authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'todos:read' }),
      })
      const body = (await response.json()) as { access_token?: string }
      record('client_credentials', startedAt, response.status, body.access_token)
    }
    // A steady stream, paced so the CLI processes get CPU on a small machine.
    const worker = async (step: () => Promise<void>) => {
      while (!stop) {
        await step()
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    const workers = [
      worker(() => exchangeAt('idp')),
      worker(() => exchangeAt('idp')),
      worker(() => exchangeAt('sts')),
      worker(() => exchangeAt('sts')),
      worker(clientCredentials),
    ]

    await new Promise((resolve) => setTimeout(resolve, 500))
    const [idpOut, stsOut] = await Promise.all([
      cli(stack, ['keys', 'rotate']),
      cli(stack, ['sts', 'rotate-keys', '--config', stack.env.STS_CONFIG]),
    ])
    const rotatedAt = {
      idp: writtenAt(join(stack.env.DATA_DIR, 'idp-keys.json')),
      client_credentials: writtenAt(join(stack.env.DATA_DIR, 'idp-keys.json')),
      sts: writtenAt(join(stack.env.DATA_DIR, 'sts', 'sts-keys.json')),
    }
    const idpKid = /active signing key: (\S+)/.exec(idpOut)![1]!
    const stsKid = /active signing key: (\S+)/.exec(stsOut)![1]!
    assert.notEqual(idpKid, idpKidBefore)
    assert.notEqual(stsKid, stsKidBefore)
    // Keep the stream going until every source has minted with its new key for a while.
    const newKidOf = { idp: idpKid, client_credentials: idpKid, sts: stsKid }
    const deadline = performance.now() + 8000
    const settled = () =>
      (['idp', 'sts', 'client_credentials'] as const).every((source) =>
        minted.some(
          (entry) =>
            entry.source === source &&
            entry.kid === newKidOf[source] &&
            entry.startedAt < performance.now() - epoch - 500,
        ),
      )
    while (!settled() && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    stop = true
    await Promise.all(workers)

    const refused = minted.filter((entry) => entry.status !== 200)
    assert.deepEqual(
      refused.map(({ source, status }) => ({ source, status })),
      [],
      'no refused request during the rotation',
    )
    const lags: Record<string, number> = {}
    for (const source of ['idp', 'sts', 'client_credentials'] as const) {
      const ofSource = minted.filter((entry) => entry.source === source)
      const firstNew = ofSource.find((entry) => entry.kid === newKidOf[source])
      assert.ok(firstNew, `${source}: some token carries the new kid`)
      // Once the new key is in use, nothing started later is signed with the old one.
      const lateOld = ofSource.filter(
        (entry) => entry.startedAt > firstNew.startedAt + 50 && entry.kid !== newKidOf[source],
      )
      assert.deepEqual(lateOld.length, 0, `${source}: old kid after the switch`)
      // File events, or the 1 s poll at the latest.
      const lag = firstNew.startedAt - rotatedAt[source]
      assert.ok(lag < 1500, `${source}: new key used ${lag.toFixed(0)} ms after the file changed`)
      lags[source] = lag
    }

    // Both JWKS publish the new key first and keep the old one; every token verifies with them.
    const idpJwks = await jwksOf(`${idpIssuer}/jwks`)
    const stsJwks = await jwksOf(`${stsIssuer}/jwks`)
    assert.deepEqual(
      idpJwks.keys.map((key) => key.kid),
      [idpKid, idpKidBefore],
    )
    assert.deepEqual(
      stsJwks.keys.map((key) => key.kid),
      [stsKid, stsKidBefore],
    )
    const oldAndNew = (source: Minted['source']) => {
      const ofSource = minted.filter((entry) => entry.source === source)
      return [ofSource[0]!, ofSource.at(-1)!]
    }
    for (const source of ['idp', 'client_credentials'] as const) {
      const [first, last] = oldAndNew(source)
      assert.equal(first.kid, idpKidBefore)
      assert.equal(last.kid, idpKid)
      for (const entry of [first, last]) {
        await jwtVerify(entry.token!, createLocalJWKSet(idpJwks), {
          issuer: idpIssuer,
          audience: 'app-b',
        })
      }
    }
    const [firstSts, lastSts] = oldAndNew('sts')
    assert.equal(firstSts.kid, stsKidBefore)
    assert.equal(lastSts.kid, stsKid)
    for (const entry of [firstSts, lastSts]) {
      await jwtVerify(entry.token!, createLocalJWKSet(stsJwks), {
        issuer: stsIssuer,
        audience: 'app-b',
      })
    }
    // App B accepts tokens of both keys, and a login after the rotation gets a new-key ID token.
    for (const entry of [oldAndNew('idp')[0], oldAndNew('idp')[1]]) {
      const answer = await fetch(`${stack.env.APP_B_URL}/api/todos/count`, {
        headers: { authorization: `Bearer ${entry.token}` },
      })
      assert.equal(answer.status, 200)
    }
    const laterLogin = await loginForTokens(stack, { scope: 'openid todos:read' })
    assert.equal(decodeJwt(laterLogin.id_token).header.kid, idpKid)
    assert.equal(decodeJwt(laterLogin.access_token).header.kid, idpKid)

    const counts = Object.fromEntries(
      (['idp', 'sts', 'client_credentials'] as const).map((source) => [
        source,
        minted.filter((entry) => entry.source === source).length,
      ]),
    )
    console.log(
      `# live key rotation: ${minted.length} requests (${JSON.stringify(counts)}), 0 refused; first new-kid token ${Object.entries(
        lags,
      )
        .map(([source, lag]) => `${source} ${lag.toFixed(0)} ms`)
        .join(', ')} after the key file changed`,
    )
  })
})
