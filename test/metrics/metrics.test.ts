/**
 * Prometheus metrics over HTTP: `/metrics` of the IdP, the STS, App B and App C, scraped the way
 * Prometheus does, after real token requests (issued, refused, throttled). Each counter is read
 * before and after, so a test passes only when the request moved it under the right labels.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadEnv } from '../../src/config/env.js'
import { createLogger } from '../../src/log/logger.js'
import { buildSts } from '../../src/sts/app.js'
import { buildAppB } from '../../src/apps/app-b/app.js'
import { buildAppC } from '../../src/apps/app-c/app.js'
import { bindSocket } from '../helpers/listen.js'
import { exchangeToken, loginForTokens, startStack, type Stack } from '../helpers/stack.js'
import {
  captureLogger,
  FakeUpstream,
  formBody,
  basic,
  CLIENT_SECRETS,
  loadConfig,
  stsConfigJson,
  tempDir,
} from '../sts/helpers.js'

const TOKEN = 'metrics-scrape-token-0123456789'
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'

async function scrape(
  base: string,
  authorization: string | null = `Bearer ${TOKEN}`,
): Promise<{ status: number; text: string; type: string | null }> {
  const response = await fetch(`${base}/metrics`, {
    headers: authorization === null ? {} : { authorization },
  })
  return {
    status: response.status,
    text: await response.text(),
    type: response.headers.get('content-type'),
  }
}

/** The sum of the samples of `name` whose labels include `labels`; 0 when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const match = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match) continue
    const found = Object.fromEntries(
      [...(match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    )
    if (Object.entries(labels).every(([key, value]) => found[key] === value))
      sum += Number(match[2])
  }
  return sum
}

describe('IdP /metrics', () => {
  let stack: Stack
  before(async () => {
    stack = await startStack({
      env: { METRICS: 'on', METRICS_TOKEN: TOKEN },
      // Login (1 token POST), one issued and one refused exchange: the 4th POST is throttled.
      idp: () => ({ abuseLimits: { tokenPerIp: { max: 3, windowSeconds: 600 } } }),
    })
  })
  after(() => stack.close())

  it('WhenAScrapeHasNoOrAWrongTokenThenItIsRefusedWith401AndNoMetrics', async () => {
    for (const authorization of [null, 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`]) {
      const response = await scrape(stack.idp.issuer, authorization)
      assert.equal(response.status, 401)
      assert.doesNotMatch(response.text, /onbehalf_|process_cpu/)
    }
  })

  it('WhenAnExchangeIsIssuedRefusedAndThrottledThenTheCountersMoveWithTheirLabels', async () => {
    const issued = { grant: 'token_exchange', outcome: 'issued', error: '', service: 'idp' }
    const refused = {
      grant: 'token_exchange',
      outcome: 'refused',
      error: 'invalid_target',
      service: 'idp',
    }
    const before = (await scrape(stack.idp.issuer)).text
    const login = await loginForTokens(stack)
    const ok = await exchangeToken(stack, {
      subject_token: login.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
    })
    assert.equal(ok.status, 200)
    const bad = await exchangeToken(stack, {
      subject_token: login.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'no-such-service',
    })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error, 'invalid_target')
    const throttled = await exchangeToken(stack, {
      subject_token: login.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'app-b',
    })
    assert.equal(throttled.status, 429)
    assert.equal(throttled.body.access_token, undefined)

    const response = await scrape(stack.idp.issuer)
    assert.equal(response.status, 200)
    assert.match(response.type ?? '', /^text\/plain; version=0\.0\.4/)
    const after = response.text
    const moved = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels)
    assert.equal(moved('onbehalf_token_requests_total', issued), 1)
    assert.equal(moved('onbehalf_token_requests_total', refused), 1)
    // The throttled request never reached the engine: two decisions, not three.
    assert.equal(moved('onbehalf_token_requests_total', { grant: 'token_exchange' }), 2)
    assert.equal(moved('onbehalf_limiter_refusals_total', { limit: 'token:ip' }), 1)
    // Code redemption, two exchanges and the throttled one: four token endpoint responses.
    assert.equal(moved('onbehalf_token_endpoint_duration_seconds_count', { status: '200' }), 2)
    assert.equal(moved('onbehalf_token_endpoint_duration_seconds_count', { status: '400' }), 1)
    assert.equal(moved('onbehalf_token_endpoint_duration_seconds_count', { status: '429' }), 1)
    const keyAge = sample(after, 'onbehalf_signing_key_age_seconds', { service: 'idp' })
    assert.ok(keyAge >= 0 && keyAge < 600, `key age ${keyAge}`)
    assert.ok(sample(after, 'process_cpu_user_seconds_total', { service: 'idp' }) > 0)
  })
})

describe('STS /metrics', () => {
  let upstream: FakeUpstream
  const keyDir = tempDir()
  before(async () => {
    upstream = await new FakeUpstream().start()
  })
  after(async () => {
    await upstream.close()
    keyDir.remove()
  })

  it('WhenTheUpstreamJwksFailsAndAnExchangeSucceedsThenBothAreCountedOverHttp', async () => {
    const config = loadConfig(
      stsConfigJson({
        issuer: 'http://sts.test',
        keyDir: keyDir.path,
        upstream: {
          issuer: upstream.issuer,
          algorithms: ['ES256'],
          clients: { 'upstream-app-a': 'app-a' },
          keyCache: { cooldownSeconds: 0 },
        },
      }),
    )
    const { logger } = captureLogger()
    const app = await buildSts(config, { logger, metrics: { enabled: true } })
    const socket = await bindSocket()
    try {
      await socket.serve(app)
      const post = (params: Record<string, string>) =>
        fetch(`${socket.url}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: basic('app-a', CLIENT_SECRETS.STS_APP_A_SECRET),
          },
          body: formBody(params),
        })
      upstream.down = true
      const down = await post({ subject_token: upstream.token(), audience: 'app-b' })
      assert.equal(down.status, 503)
      const refusal = (await down.json()) as { error?: string; access_token?: string }
      assert.equal(refusal.error, 'temporarily_unavailable')
      assert.equal(refusal.access_token, undefined)
      upstream.down = false
      const ok = await post({ subject_token: upstream.token(), audience: 'app-b' })
      assert.equal(ok.status, 200)
      // No METRICS_TOKEN: the scrape needs no credentials.
      const { status, text } = await scrape(socket.url, null)
      assert.equal(status, 200)
      const labels = { grant: 'token_exchange', service: 'sts' }
      assert.equal(
        sample(text, 'onbehalf_token_requests_total', { ...labels, outcome: 'issued' }),
        1,
      )
      assert.equal(
        sample(text, 'onbehalf_token_requests_total', {
          ...labels,
          outcome: 'refused',
          error: 'temporarily_unavailable',
        }),
        1,
      )
      assert.ok(
        sample(text, 'onbehalf_jwks_fetch_failures_total', { issuer: upstream.issuer }) >= 1,
      )
      assert.equal(
        sample(text, 'onbehalf_token_endpoint_duration_seconds_count', { status: '503' }),
        1,
      )
      assert.equal(
        sample(text, 'onbehalf_token_endpoint_duration_seconds_count', { status: '200' }),
        1,
      )
      assert.ok(sample(text, 'onbehalf_signing_key_age_seconds', { service: 'sts' }) >= 0)
    } finally {
      await socket.close()
      await app.close()
    }
  })

  it('WhenMetricsAreOffThenThereIsNoMetricsRoute', async () => {
    const { logger } = captureLogger()
    const app = await buildSts(
      loadConfig(
        stsConfigJson({
          issuer: 'http://sts.test',
          keyDir: keyDir.path,
          upstream: { issuer: upstream.issuer, algorithms: ['ES256'] },
        }),
      ),
      { logger },
    )
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404)
    } finally {
      await app.close()
    }
  })
})

describe('App B and App C /metrics', () => {
  it('WhenMetricsAreOnThenEachAppServesItsProcessMetricsBehindTheToken', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'onbehalf-metrics-'))
    const env = loadEnv({
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      METRICS: 'on',
      METRICS_TOKEN: TOKEN,
    })
    const logger = createLogger({ level: 'silent' })
    const apps = [
      ['app-b', await buildAppB({ env, logger })],
      ['app-c', await buildAppC({ env, logger })],
    ] as const
    try {
      for (const [service, app] of apps) {
        const socket = await bindSocket()
        try {
          await socket.serve(app)
          assert.equal((await scrape(socket.url, null)).status, 401)
          const { status, text } = await scrape(socket.url)
          assert.equal(status, 200)
          assert.ok(sample(text, 'process_cpu_user_seconds_total', { service }) > 0, service)
        } finally {
          await socket.close()
        }
      }
    } finally {
      for (const [, app] of apps) await app.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

describe('metrics configuration', () => {
  it('WhenMetricsSettingsAreInvalidThenTheErrorNamesTheVariable', () => {
    assert.throws(() => loadEnv({ METRICS: 'yes' }), /METRICS:/)
    assert.throws(() => loadEnv({ METRICS_TOKEN: 'short' }), /METRICS_TOKEN: must be 16-256/)
    assert.throws(
      () => loadEnv({ NODE_ENV: 'production', METRICS: 'on' }),
      /METRICS_TOKEN: required when METRICS=on and NODE_ENV=production/,
    )
    assert.equal(loadEnv({ NODE_ENV: 'test' }).METRICS, 'off')
  })
})
