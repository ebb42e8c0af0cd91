/**
 * `npm run bench`: token exchange throughput and latency of the embedded IdP's grant and of the
 * STS, beside oidc-provider's client_credentials grant as the baseline, the one-core
 * cryptographic bound, App B's verified service API and App A's on-behalf call with the
 * exchanged-token cache hit and missed — all in one run on one machine (issue 8).
 *
 * Every service runs in its own child process on 127.0.0.1; autocannon drives it from here for a
 * bounded time per run. Prints a table with the targets and writes JSON.
 *
 *   npm run bench                         full run → bench/results/latest.json
 *   npm run bench:smoke                   every phase at tiny durations (CI)
 *   npm run bench -- --only idp,app-b     some phases
 *   npm run bench -- --cpu-prof idp       also write a V8 CPU profile of that service
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { signInWithLoginForm } from '../src/demo/form_login.js'
import { basicAuthorization } from '../src/client/token_exchange_client.js'
import { DEVELOPMENT_SECRETS } from '../src/config/env.js'
import { measureCryptoBound } from './lib/crypto_bound.js'
import { runLoad, type LoadResult, type LoadSpec } from './lib/load.js'
import { describeMachine } from './lib/machine.js'
import { measureOnBehalf } from './lib/on_behalf.js'
import { freePort, startService, type ServiceKind, type ServiceProcess } from './lib/processes.js'
import {
  evaluateTargets,
  formatTable,
  RESULT_SCHEMA,
  type BenchResult,
  type BenchSettings,
  type Phase,
  type PhaseId,
} from './lib/report.js'
import { BASELINE_CLIENT_ID, BASELINE_CLIENT_SECRET } from './servers/baseline.js'
import { stsAvailability } from './servers/sts.js'

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url))
const ALL_PHASES: readonly PhaseId[] = ['baseline', 'idp', 'sts', 'app-b']
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const APP_A_SCOPE = 'openid profile email offline_access todos:read'
const APP_B_SCOPE = 'todos:read'
const FORM = 'application/x-www-form-urlencoded'

function readSettings(argv: string[]): { settings: BenchSettings; out: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'log-level': { type: 'string' },
    },
  })
  const smoke = values.smoke === true
  const phases = values.only ? (values.only.split(',') as PhaseId[]) : [...ALL_PHASES]
  for (const phase of phases) {
    if (!ALL_PHASES.includes(phase))
      throw new TypeError(`--only: unknown phase ${phase} (${ALL_PHASES.join(', ')})`)
  }
  const connections = values.connections
    ? values.connections.split(',').map(Number)
    : smoke
      ? [4]
      : [1, 10, 50]
  if (!connections.every((n) => Number.isInteger(n) && n > 0 && n <= 1000)) {
    throw new TypeError('--connections: positive integers up to 1000')
  }
  const durationSeconds = values.duration ? Number(values.duration) : smoke ? 0.5 : 10
  if (!(durationSeconds > 0 && durationSeconds <= 60))
    throw new TypeError('--duration: seconds in (0, 60]')
  const cpuProfile = values['cpu-prof'] ?? null
  if (cpuProfile !== null && !['idp', 'app-b', 'baseline', 'sts'].includes(cpuProfile)) {
    throw new TypeError('--cpu-prof: one of idp, app-b, baseline, sts')
  }
  const settings: BenchSettings = {
    mode: smoke ? 'smoke' : 'full',
    connections,
    durationSeconds,
    warmupSeconds: smoke ? 0.2 : 3,
    halfPeakConnections: smoke ? 4 : 50,
    clusterWorkers: 2,
    cryptoDurationMs: smoke ? 100 : 2000,
    onBehalfSeconds: smoke ? 0.3 : 5,
    logLevel: values['log-level'] ?? 'info',
    loadGenerator: 'autocannon 9 (library), HTTP/1.1 keep-alive, no pipelining',
    phases,
    cpuProfile,
  }
  const out = resolve(values.out ?? join(RESULTS_DIR, smoke ? 'smoke.json' : 'latest.json'))
  return { settings, out }
}

/** Warm-up, then one run per connection level; memory sampled throughout. */
async function loadPhase(
  service: ServiceProcess,
  settings: BenchSettings,
  request: Omit<LoadSpec, 'connections' | 'durationSeconds'>,
  options: { halfPeak: boolean },
): Promise<Pick<Phase, 'runs' | 'peak' | 'halfPeak' | 'peakRssBytes'>> {
  let peakRss = 0
  const onSample = () => {
    const memory = service.memory()
    if (memory) peakRss = Math.max(peakRss, memory.rssBytes)
  }
  const spec = { ...request, onSample }
  const largest = Math.max(...settings.connections)
  await runLoad({ ...spec, connections: largest, durationSeconds: settings.warmupSeconds })
  const runs: LoadResult[] = []
  for (const connections of settings.connections) {
    runs.push(await runLoad({ ...spec, connections, durationSeconds: settings.durationSeconds }))
  }
  const peak = runs.reduce((best, run) =>
    run.requestsPerSecond > best.requestsPerSecond ? run : best,
  )
  let halfPeak: LoadResult | undefined
  if (options.halfPeak && peak.requestsPerSecond >= 2) {
    halfPeak = await runLoad({
      ...spec,
      connections: settings.halfPeakConnections,
      overallRate: Math.floor(peak.requestsPerSecond / 2),
      durationSeconds: settings.durationSeconds,
    })
  }
  onSample()
  return { runs, peak, halfPeak, peakRssBytes: peakRss || service.memory()?.rssBytes }
}

/** One request before the load, so a phase never measures error answers at speed. */
async function checkAnswers(
  url: string,
  init: RequestInit,
  what: string,
): Promise<Record<string, unknown>> {
  const response = await fetch(url, init)
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>
  if (response.status !== 200)
    throw new Error(`${what}: HTTP ${response.status} ${JSON.stringify(body)}`)
  return body
}

interface Ports {
  readonly idp: number
  readonly appA: number
  readonly appB: number
  readonly baseline: number
  readonly sts: number
}

async function pickPorts(): Promise<Ports> {
  return {
    idp: await freePort(),
    appA: await freePort(),
    appB: await freePort(),
    baseline: await freePort(),
    sts: await freePort(),
  }
}

function decodePayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >
}

async function main(): Promise<void> {
  const { settings, out } = readSettings(process.argv.slice(2))
  const startedAt = new Date().toISOString()
  const dataDir = mkdtempSync(join(tmpdir(), 'onbehalf-bench-'))
  const profileDir = join(RESULTS_DIR, 'profiles')
  let ports = await pickPorts()
  const envFor = (p: Ports): Record<string, string> => ({
    NODE_ENV: 'development',
    LOG_LEVEL: settings.logLevel,
    DATA_DIR: dataDir,
    IDP_ISSUER: `http://127.0.0.1:${p.idp}`,
    IDP_PORT: String(p.idp),
    APP_A_URL: `http://127.0.0.1:${p.appA}`,
    APP_A_PORT: String(p.appA),
    APP_B_URL: `http://127.0.0.1:${p.appB}`,
    APP_B_PORT: String(p.appB),
    // Stated, not defaulted: the App B phase runs once with it on and once with it off.
    APP_B_VERIFIED_TOKEN_CACHE: 'on',
  })
  let env = envFor(ports)
  const clientSecret = DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET
  const wants = (phase: PhaseId) => settings.phases.includes(phase)
  let sts = wants('sts') ? await stsAvailability() : { available: false, reason: 'not selected' }

  const services = new Map<ServiceKind, ServiceProcess>()
  const start = async (kind: ServiceKind, port: number) => {
    const profile = settings.cpuProfile === kind ? { cpuProfileDir: profileDir } : {}
    if (profile.cpuProfileDir) mkdirSync(profile.cpuProfileDir, { recursive: true })
    services.set(
      kind,
      await startService({ kind, port, env, logLevel: settings.logLevel }, profile),
    )
  }
  /** The same service again under node:cluster, on its own port, at the peak's connection count. */
  const clusteredRun = async (
    kind: ServiceKind,
    peak: LoadResult | undefined,
    request: (url: string) => Omit<LoadSpec, 'connections' | 'durationSeconds'>,
    extraEnv: Record<string, string> = {},
  ) => {
    if (settings.clusterWorkers < 2 || !peak) return undefined
    const service = await startService({
      kind,
      port: await freePort(),
      env: { ...env, ...extraEnv },
      logLevel: settings.logLevel,
      workers: settings.clusterWorkers,
    })
    try {
      const result = await loadPhase(
        service,
        { ...settings, connections: [peak.connections] },
        request(service.url),
        { halfPeak: false },
      )
      return {
        workers: settings.clusterWorkers,
        run: result.peak!,
        peakRssBytes: result.peakRssBytes,
      }
    } finally {
      await service.stop()
    }
  }
  const phases: Phase[] = []
  let onBehalf: BenchResult['onBehalf'] = null
  const startAll = async () => {
    // The IdP first (it creates its keys in the data folder), then the rest side by side.
    await start('idp', ports.idp)
    await Promise.all([
      wants('app-b') ? start('app-b', ports.appB) : undefined,
      wants('baseline') ? start('baseline', ports.baseline) : undefined,
      sts.available
        ? start('sts', ports.sts).catch((err: Error) => {
            if (/EADDRINUSE/.test(err.message)) throw err
            sts = { available: false, reason: `STS not available (did not start: ${err.message})` }
          })
        : undefined,
    ])
  }
  const stopAll = async () => {
    await Promise.all([...services.values()].map((service) => service.stop()))
    services.clear()
  }
  try {
    // Ports are chosen before the services listen (the IdP's issuer names its port), so another
    // process can take one in between: then start again on fresh ports.
    for (let attempt = 1; ; attempt++) {
      try {
        await startAll()
        break
      } catch (err) {
        await stopAll()
        if (attempt === 3 || !/EADDRINUSE/.test((err as Error).message)) throw err
        ports = await pickPorts()
        env = envFor(ports)
      }
    }
    const issuer = env.IDP_ISSUER!

    let subject = { token: '', exp: 0 }
    const subjectToken = async () => {
      if (subject.exp - Date.now() / 1000 < 120) {
        // A real subject token: demo signs in through the IdP's login form (no back door).
        const tokens = await signInWithLoginForm({
          authorizationEndpoint: `${issuer}/auth`,
          tokenEndpoint: `${issuer}/token`,
          clientId: 'app-a',
          clientSecret,
          redirectUri: `${env.APP_A_URL}/auth/callback`,
          username: 'demo',
          password: 'changeme',
          scope: APP_A_SCOPE,
        })
        subject = {
          token: tokens.access_token,
          exp: Number(decodePayload(tokens.access_token).exp),
        }
      }
      return subject.token
    }
    const exchangeBody = async () =>
      new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        subject_token: await subjectToken(),
        subject_token_type: ACCESS_TOKEN_TYPE,
        audience: 'app-b',
        scope: APP_B_SCOPE,
      }).toString()
    const appAHeaders = {
      authorization: basicAuthorization('app-a', clientSecret),
      'content-type': FORM,
    }

    // The cryptographic bound, with the real subject token and the IdP's published key.
    const jwks = (await checkAnswers(`${issuer}/jwks`, {}, 'IdP JWKS')) as {
      keys: Array<JsonWebKey & { kid: string }>
    }
    const token = await subjectToken()
    const kid = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'))
      .kid as string
    const jwk = jwks.keys.find((key) => key.kid === kid)
    if (!jwk) throw new Error('the subject token was signed with a key the IdP does not publish')
    const firstExchange = await checkAnswers(
      `${issuer}/token`,
      { method: 'POST', headers: appAHeaders, body: await exchangeBody() },
      'IdP token exchange',
    )
    const crypto = measureCryptoBound({
      subjectToken: token,
      subjectKey: createPublicKey({ key: jwk, format: 'jwk' }),
      issuedClaims: decodePayload(String(firstExchange.access_token)),
      durationMs: settings.cryptoDurationMs,
    })

    if (wants('baseline')) {
      const service = services.get('baseline')!
      const headers = {
        authorization: basicAuthorization(BASELINE_CLIENT_ID, BASELINE_CLIENT_SECRET),
        'content-type': FORM,
      }
      const body = new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'read',
      }).toString()
      const answer = await checkAnswers(
        `${service.url}/token`,
        { method: 'POST', headers, body },
        'baseline client_credentials',
      )
      if (String(answer.access_token).split('.').length !== 3)
        throw new Error('baseline: access token is not a JWT')
      phases.push({
        id: 'baseline',
        title: 'baseline: oidc-provider client_credentials',
        request:
          'POST /token grant_type=client_credentials, client_secret_basic → ES256 JWT access token',
        available: true,
        ...(await loadPhase(
          service,
          settings,
          { url: `${service.url}/token`, method: 'POST', headers, body },
          { halfPeak: false },
        )),
      })
    }

    if (wants('idp')) {
      const service = services.get('idp')!
      const body = await exchangeBody()
      await checkAnswers(
        `${service.url}/token`,
        { method: 'POST', headers: appAHeaders, body },
        'IdP token exchange',
      )
      phases.push({
        id: 'idp',
        title: 'embedded IdP: token exchange grant',
        request:
          'POST /token RFC 8693, app-a for app-b, client_secret_basic → ES256 JWT access token',
        available: true,
        ...(await loadPhase(
          service,
          settings,
          { url: `${service.url}/token`, method: 'POST', headers: appAHeaders, body },
          { halfPeak: true },
        )),
      })
    }

    if (wants('sts')) {
      const service = services.get('sts')
      if (!service) {
        phases.push({
          id: 'sts',
          title: 'onbehalf STS: token exchange',
          request: 'POST /token RFC 8693',
          available: false,
          reason: sts.reason,
          runs: [],
        })
      } else {
        const body = await exchangeBody()
        await checkAnswers(
          `${service.url}/token`,
          { method: 'POST', headers: appAHeaders, body },
          'STS token exchange',
        )
        const request = (url: string) => ({
          url: `${url}/token`,
          method: 'POST' as const,
          headers: appAHeaders,
          body,
        })
        const single = await loadPhase(service, settings, request(service.url), { halfPeak: true })
        phases.push({
          id: 'sts',
          title: 'onbehalf STS: token exchange',
          request:
            'POST /token RFC 8693, app-a for app-b, client_secret_basic → ES256 JWT access token',
          available: true,
          ...single,
          clustered: await clusteredRun('sts', single.peak, request),
        })
      }
    }

    if (wants('app-b')) {
      const service = services.get('app-b')!
      const exchanged = await checkAnswers(
        `${issuer}/token`,
        { method: 'POST', headers: appAHeaders, body: await exchangeBody() },
        'IdP token exchange',
      )
      const headers = { authorization: `Bearer ${String(exchanged.access_token)}` }
      await checkAnswers(`${service.url}/api/todos/count`, { headers }, 'App B service API')
      const request = (url: string) => ({ url: `${url}/api/todos/count`, headers })
      // Cache on: the same exchanged token over and over, as App A sends it for minutes, so this
      // measures App B's verified-token cache hits (a token is re-verified after at most 60 s).
      const single = await loadPhase(service, settings, request(service.url), { halfPeak: false })
      const clustered = await clusteredRun('app-b', single.peak, request)
      // Cache off: the same runs on a second App B where every request pays the full
      // verification (ES256 signature + claims) — the cost of a token App B has not seen yet.
      const uncachedEnv = { APP_B_VERIFIED_TOKEN_CACHE: 'off' }
      const uncachedService = await startService({
        kind: 'app-b',
        port: await freePort(),
        env: { ...env, ...uncachedEnv },
        logLevel: settings.logLevel,
      })
      let uncached: Phase['uncached']
      try {
        await checkAnswers(
          `${uncachedService.url}/api/todos/count`,
          { headers },
          'App B service API (token cache off)',
        )
        const result = await loadPhase(uncachedService, settings, request(uncachedService.url), {
          halfPeak: false,
        })
        uncached = {
          title: 'App B: /api/todos/count, token cache off',
          request:
            'the same request to an App B with APP_B_VERIFIED_TOKEN_CACHE=off: ES256 signature and claims checked on every request',
          verifiedTokenCache: 'off',
          runs: result.runs,
          peak: result.peak,
          peakRssBytes: result.peakRssBytes,
        }
      } finally {
        await uncachedService.stop()
      }
      uncached = {
        ...uncached,
        clustered: await clusteredRun('app-b', uncached.peak, request, uncachedEnv),
      }
      phases.push({
        id: 'app-b',
        title: 'App B: /api/todos/count, token cache on',
        request:
          'GET /api/todos/count with one exchanged bearer token reused (APP_B_VERIFIED_TOKEN_CACHE=on: verified once, then served from the verified-token cache; caller policy, audit line on every request)',
        available: true,
        verifiedTokenCache: 'on',
        ...single,
        clustered,
        uncached,
      })

      onBehalf = await measureOnBehalf({
        tokenEndpoint: `${issuer}/token`,
        clientId: 'app-a',
        clientSecret,
        appBUrl: service.url,
        audience: 'app-b',
        scope: APP_B_SCOPE,
        subjectToken: await subjectToken(),
        durationSeconds: settings.onBehalfSeconds,
      })
    }

    const result: BenchResult = {
      schema: RESULT_SCHEMA,
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: describeMachine(),
      settings,
      crypto,
      phases,
      onBehalf,
      targets: evaluateTargets({ crypto, phases, onBehalf }),
    }
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)
    console.log(formatTable(result))
    console.log(`\nwritten: ${out}`)
  } finally {
    await stopAll()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
