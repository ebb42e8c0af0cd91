/**
 * `startSts` (`onbehalf/sts`): the STS from a configuration object or file, listening on a port the
 * system chose, doing a real exchange over HTTP against a real (small) upstream; a bad
 * configuration never starts.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { ConfigError, startSts, type RunningSts } from '../../src/sts/index.js'
import { CLIENT_SECRETS, captureLogger, FakeUpstream, stsConfigJson, tempDir } from './helpers.js'

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`

describe('startSts', () => {
  let upstream: FakeUpstream
  const dir = tempDir()
  const running: RunningSts[] = []
  before(async () => {
    upstream = await new FakeUpstream().start()
  })
  after(async () => {
    for (const sts of running) await sts.close()
    await upstream.close()
    dir.remove()
  })

  const config = (keyDir: string) =>
    stsConfigJson({
      issuer: 'http://sts.test',
      keyDir: join(dir.path, keyDir),
      upstream: { issuer: upstream.issuer, algorithms: ['ES256'], clients: { 'app-a': 'app-a' } },
    })

  it('when given a config object and port 0 then it listens and exchanges a token', async () => {
    const sts = await startSts(config('object'), {
      port: 0,
      variables: CLIENT_SECRETS,
      logger: captureLogger().logger,
    })
    running.push(sts)
    assert.match(sts.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.notEqual(sts.url, 'http://127.0.0.1:0')

    const metadata = await (await fetch(`${sts.url}/.well-known/oauth-authorization-server`)).json()
    assert.equal(metadata.issuer, 'http://sts.test')

    const response = await fetch(`${sts.url}/token`, {
      method: 'POST',
      headers: { authorization: basic('app-a', CLIENT_SECRETS.STS_APP_A_SECRET) },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: upstream.token({ sub: 'alice', aud: 'app-a', client_id: 'app-a' }),
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        audience: 'app-b',
      }),
    })
    const body = await response.json()
    assert.equal(response.status, 200, JSON.stringify(body))
    assert.equal(body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token')
  })

  it('when given a file (path or file: URL) then it reads it with the variables', async () => {
    const file = join(dir.path, 'sts.json')
    writeFileSync(file, JSON.stringify({ ...config('file'), issuer: '${STS_TEST_ISSUER}' }))
    for (const source of [file, pathToFileURL(file)]) {
      const sts = await startSts(source, {
        port: 0,
        variables: { ...CLIENT_SECRETS, STS_TEST_ISSUER: 'http://sts-from-file.test' },
        logger: captureLogger().logger,
      })
      running.push(sts)
      assert.equal(sts.config.issuer, 'http://sts-from-file.test')
      const metadata = await (
        await fetch(`${sts.url}/.well-known/oauth-authorization-server`)
      ).json()
      assert.equal(metadata.token_endpoint, 'http://sts-from-file.test/token')
    }
  })

  it('when a client secret is missing then ConfigError naming the field, nothing listens', async () => {
    await assert.rejects(
      startSts(config('missing'), { port: 0, variables: {}, logger: captureLogger().logger }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError)
        assert.match(error.message, /clients\.app-a\.secretEnv/)
        return true
      },
    )
  })
})
