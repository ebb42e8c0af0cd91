/**
 * `npm run bench`: CPU per token exchange at the embedded IdP's grant and at the STS, beside
 * oidc-provider's client_credentials grant (the baseline) and the ES256 crypto floor, all measured
 * in one run on one machine (issue 18); App B with and without its verified-token cache; App A's
 * on-behalf call; Keycloak's own exchange when one is running (KEYCLOAK_URL).
 *
 * Every service runs in its own process on 127.0.0.1 (the STS compiled, as its users run it);
 * wrk (one thread) drives it for a bounded time per run through 100 distinct subject tokens from
 * real logins. CPU per request is the service's utime+stime from /proc over the 2xx answers.
 * Latency is judged under evenly paced load at half the peak rate. Prints a table with the targets
 * and writes JSON.
 *
 *   npm run bench                         full run → bench/results/latest.json
 *   npm run bench:smoke                   every phase at 1 s runs (CI: npm run test:bench)
 *   npm run bench -- --only sts,baseline  some phases
 *   npm run bench -- --cpu-prof sts       also write a V8 CPU profile of that service
 *   npm run bench -- --sts-node-flags ''  the compiled STS without its deployment's node flags
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { format } from 'prettier'
import { fileURLToPath } from 'node:url'
import { signInWithLoginForm } from '../src/demo/form_login.js'
import { basicAuthorization } from '../src/client/token_exchange_client.js'
import { DEVELOPMENT_SECRETS, loadEnv } from '../src/config/env.js'
import { measureCryptoBound } from './lib/crypto_bound.js'
import { measureFreshVerify, type FreshVerifyResult } from './lib/fresh_verify.js'
import { cpuTime } from './lib/cpu.js'
import { checkWrk, runLoad, type HttpRequest, type LoadResult } from './lib/wrk.js'
import { describeMachine } from './lib/machine.js'
import { measureOnBehalf } from './lib/on_behalf.js'
import { prepareKeycloak, type KeycloakBench } from './lib/keycloak.js'
import { measureStartup, type StartupResult } from './lib/startup.js'
import {
  freePort,
  STS_NODE_FLAGS,
  startCompiledSts,
  readMemory,
  startService,
  type ServiceKind,
  type ServiceProcess,
} from './lib/processes.js'
import {
  evaluateTargets,
  formatTable,
  RESULT_SCHEMA,
  type BenchResult,
  type BenchSettings,
  type Phase,
  type StepId,
} from './lib/report.js'
import { BASELINE_CLIENT_ID, BASELINE_CLIENT_SECRET } from './servers/baseline.js'
import { benchStsConfig } from './servers/sts.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url))
const ALL_PHASES: readonly StepId[] = [
  'baseline',
  'idp',
  'sts',
  'app-b',
  'app-b-fresh',
  'keycloak',
  'start',
]
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const APP_A_SCOPE = 'openid profile email offline_access todos:read'
const APP_B_SCOPE = 'todos:read'
const FORM = 'application/x-www-form-urlencoded'
/** A subject token pool is renewed when its first token has less than this left. */
const TOKEN_MARGIN_SECONDS = 150

function readSettings(argv: string[]): { settings: BenchSettings; out: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      tokens: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'log-level': { type: 'string' },
      'sts-node-flags': { type: 'string' },
    },
  })
  const smoke = values.smoke === true
  const phases = values.only ? (values.only.split(',') as StepId[]) : [...ALL_PHASES]
  for (const phase of phases) {
    if (!ALL_PHASES.includes(phase))
      throw new TypeError(`--only: unknown phase ${phase} (${ALL_PHASES.join(', ')})`)
  }
  const connections = values.connections
    ? values.connections.split(',').map(Number)
    : smoke
      ? [8]
      : [1, 10, 50]
  if (!connections.every((n) => Number.isInteger(n) && n > 0 && n <= 1000)) {
    throw new TypeError('--connections: positive integers up to 1000')
  }
  const durationSeconds = values.duration ? Number(values.duration) : smoke ? 1 : 10
  if (!(Number.isInteger(durationSeconds) && durationSeconds >= 1 && durationSeconds <= 60))
    throw new TypeError('--duration: whole seconds in [1, 60]')
  const subjectTokens = values.tokens ? Number(values.tokens) : 100
  if (!(Number.isInteger(subjectTokens) && subjectTokens >= 1 && subjectTokens <= 2000))
    throw new TypeError('--tokens: an integer in [1, 2000]')
  const cpuProfile = values['cpu-prof'] ?? null
  if (cpuProfile !== null && !['idp', 'app-b', 'baseline', 'sts'].includes(cpuProfile)) {
    throw new TypeError('--cpu-prof: one of idp, app-b, baseline, sts')
  }
  const settings: BenchSettings = {
    mode: smoke ? 'smoke' : 'full',
    connections,
    durationSeconds,
    warmupSeconds: smoke ? 0 : 3,
    // The JVM's JIT compiles the hot path over tens of seconds (C2 after ~10k invocations).
    keycloakWarmupSeconds: smoke ? 0 : 30,
    startRuns: smoke ? 1 : 3,
    pacedConnections: smoke ? 4 : 10,
    subjectTokens,
    clusterWorkers: smoke ? 0 : 2,
    cryptoDurationMs: smoke ? 100 : 2000,
    onBehalfSeconds: smoke ? 0.3 : 5,
    logLevel: values['log-level'] ?? 'info',
    loadGenerator: 'wrk',
    phases,
    cpuProfile,
    stsNodeFlags:
      values['sts-node-flags'] === undefined
        ? STS_NODE_FLAGS
        : values['sts-node-flags'].split(' ').filter(Boolean),
  }
  const out = resolve(values.out ?? join(RESULTS_DIR, smoke ? 'smoke.json' : 'latest.json'))
  return { settings, out }
}

/** Warm-up, one run per connection level, then (optionally) evenly paced at half the peak. */
async function loadPhase(
  service: Pick<ServiceProcess, 'url' | 'pid' | 'memory'>,
  settings: BenchSettings,
  requests: readonly HttpRequest[],
  options: { paced: boolean; perProcess?: boolean },
): Promise<Pick<Phase, 'runs' | 'peak' | 'paced' | 'peakRssBytes'>> {
  let peakRss = 0
  const onSample = () => {
    const memory = service.memory()
    if (memory) peakRss = Math.max(peakRss, memory.rssBytes)
  }
  const spec = {
    baseUrl: service.url,
    requests,
    pid: service.pid,
    onSample,
    perProcess: options.perProcess === true,
  }
  const largest = Math.max(...settings.connections)
  if (settings.warmupSeconds > 0)
    await runLoad({ ...spec, connections: largest, durationSeconds: settings.warmupSeconds })
  const runs: LoadResult[] = []
  for (const connections of settings.connections) {
    runs.push(await runLoad({ ...spec, connections, durationSeconds: settings.durationSeconds }))
  }
  const peak = runs.reduce((best, run) =>
    run.requestsPerSecond > best.requestsPerSecond ? run : best,
  )
  let paced: LoadResult | undefined
  if (options.paced && peak.requestsPerSecond >= 2) {
    // wrk pauses after each answer, so each connection's pause is its share of the interval less
    // the answer time, which is measured at that rate by a short calibration run first.
    const pacedSpec = {
      ...spec,
      connections: settings.pacedConnections,
      pacedRate: peak.requestsPerSecond / 2,
    }
    const calibration = await runLoad({
      ...pacedSpec,
      durationSeconds: Math.max(1, Math.round(settings.durationSeconds / 5)),
    })
    paced = await runLoad({
      ...pacedSpec,
      answerMs: calibration.latencyMs.mean,
      durationSeconds: settings.durationSeconds,
    })
  }
  onSample()
  return { runs, peak, paced, peakRssBytes: peakRss || service.memory()?.rssBytes }
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

function decodePart(jwt: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[index]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >
}

/** Up to `limit` calls of `task` at a time, results in order. */
async function inBatches<T>(count: number, limit: number, task: (i: number) => Promise<T>) {
  const results: T[] = new Array<T>(count)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const i = next++
        results[i] = await task(i)
      }
    }),
  )
  return results
}

const began = performance.now()
/** Where the run is, on stderr (stdout is the table). */
function progress(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - began) / 1000).toFixed(1)} s] ${message}\n`)
}

const loadAverage = () => Math.round(loadavg()[0]! * 100) / 100

async function main(): Promise<void> {
  const { settings, out } = readSettings(process.argv.slice(2))
  const startedAt = new Date().toISOString()
  const loadAtStart = loadAverage()
  const wrkVersion = await checkWrk()
  const wants = (phase: StepId) => settings.phases.includes(phase)
  if (wants('sts')) {
    // The STS runs compiled, as `onbehalf sts` does; a no-op when dist/ is up to date.
    execFileSync(process.execPath, [join(ROOT, 'scripts/build.js')], { stdio: 'inherit' })
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'onbehalf-bench-'))
  const profileDir = join(RESULTS_DIR, 'profiles')
  if (settings.cpuProfile) mkdirSync(profileDir, { recursive: true })
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
    APP_B_VERIFIED_TOKEN_CACHE: 'on',
    // The benchmark measures App B's own verification (no IdP round trip per call).
    APP_B_INTROSPECTION: 'off',
  })
  let env = envFor(ports)
  const clientSecret = DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET

  const services = new Map<ServiceKind | 'app-b-fresh', ServiceProcess>()
  const start = async (kind: ServiceKind, port: number, extraEnv: Record<string, string> = {}) => {
    const profile = settings.cpuProfile === kind ? { cpuProfileDir: profileDir } : {}
    const service = await startService(
      { kind, port, env: { ...env, ...extraEnv }, logLevel: settings.logLevel },
      profile,
    )
    services.set(kind, service)
    return service
  }
  const startSts = async () => {
    const configFile = join(dataDir, 'sts.json')
    writeFileSync(configFile, JSON.stringify(benchStsConfig(loadEnv(env), ports.sts)))
    const service = await startCompiledSts({
      configFile,
      port: ports.sts,
      cwd: dataDir,
      env: { ...env, APP_A_CLIENT_SECRET: clientSecret },
      nodeFlags: settings.stsNodeFlags,
      ...(settings.cpuProfile === 'sts' ? { cpuProfileDir: profileDir } : {}),
    })
    services.set('sts', service)
  }
  const phases: Phase[] = []
  let onBehalf: BenchResult['onBehalf'] = null
  let freshVerify: FreshVerifyResult | null = null
  const startAll = async () => {
    // The IdP first (it creates its keys in the data folder), then the rest side by side.
    await start('idp', ports.idp)
    await Promise.all([
      wants('app-b') || wants('app-b-fresh') ? start('app-b', ports.appB) : undefined,
      // A second App B where every request pays the full verification.
      wants('app-b-fresh')
        ? freePort().then(async (port) => {
            const service = await startService({
              kind: 'app-b',
              port,
              env: { ...env, APP_B_VERIFIED_TOKEN_CACHE: 'off' },
              logLevel: settings.logLevel,
            })
            services.set('app-b-fresh', service)
          })
        : undefined,
      wants('baseline') ? start('baseline', ports.baseline) : undefined,
      wants('sts') ? startSts() : undefined,
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
    progress('services started')
    const issuer = env.IDP_ISSUER!

    // Distinct subject tokens, all issued by the IdP to App A for demo: a few real logins through
    // the login form (no back door), each followed by refresh-token grants, every one of which
    // issues a new access token (a login per token would spend the run on password hashing).
    // Renewed before a phase when the oldest is near its expiry.
    let pool = { tokens: [] as string[], exp: 0 }
    const refresh = async (refreshToken: string) => {
      const answer = await checkAnswers(
        `${issuer}/token`,
        {
          method: 'POST',
          headers: {
            authorization: basicAuthorization('app-a', clientSecret),
            'content-type': FORM,
          },
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: refreshToken,
          }).toString(),
        },
        'IdP refresh_token grant',
      )
      return {
        accessToken: String(answer.access_token),
        refreshToken:
          typeof answer.refresh_token === 'string' ? answer.refresh_token : refreshToken,
      }
    }
    const subjectTokens = async (): Promise<readonly string[]> => {
      if (pool.exp - Date.now() / 1000 < TOKEN_MARGIN_SECONDS) {
        const logins = Math.min(4, settings.subjectTokens)
        const perLogin = Math.ceil(settings.subjectTokens / logins)
        const chains = await inBatches(logins, logins, async () => {
          const answer = await signInWithLoginForm({
            authorizationEndpoint: `${issuer}/auth`,
            tokenEndpoint: `${issuer}/token`,
            clientId: 'app-a',
            clientSecret,
            redirectUri: `${env.APP_A_URL}/auth/callback`,
            username: 'demo',
            password: 'changeme',
            scope: APP_A_SCOPE,
          })
          const chain = [answer.access_token]
          let refreshToken =
            typeof answer.refresh_token === 'string' ? answer.refresh_token : undefined
          if (!refreshToken && perLogin > 1) throw new Error('the IdP issued no refresh token')
          while (chain.length < perLogin) {
            const next = await refresh(refreshToken!)
            chain.push(next.accessToken)
            refreshToken = next.refreshToken
          }
          return chain
        })
        const tokens = chains.flat().slice(0, settings.subjectTokens)
        if (new Set(tokens).size !== tokens.length) throw new Error('subject tokens repeat')
        pool = {
          tokens,
          exp: Math.min(...tokens.map((token) => Number(decodePart(token, 1).exp))),
        }
      }
      return pool.tokens
    }
    const appAHeaders = {
      authorization: basicAuthorization('app-a', clientSecret),
      'content-type': FORM,
    }
    const exchangeBody = (subjectToken: string) =>
      new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        audience: 'app-b',
        scope: APP_B_SCOPE,
      }).toString()
    const exchangeRequests = async (): Promise<HttpRequest[]> =>
      (await subjectTokens()).map((token) => ({
        method: 'POST',
        path: '/token',
        headers: appAHeaders,
        body: exchangeBody(token),
      }))
    /** A real exchange per subject token at `url` (each token also checked to work there). */
    const exchangeAll = async (url: string, what: string) =>
      inBatches((await subjectTokens()).length, 4, async (i) => {
        const answer = await checkAnswers(
          `${url}/token`,
          { method: 'POST', headers: appAHeaders, body: exchangeBody(pool.tokens[i]!) },
          what,
        )
        return String(answer.access_token)
      })

    // The crypto floor, with a real subject token and the IdP's published key.
    const jwks = (await checkAnswers(`${issuer}/jwks`, {}, 'IdP JWKS')) as {
      keys: Array<JsonWebKey & { kid: string }>
    }
    const token = (await subjectTokens())[0]!
    const jwk = jwks.keys.find((key) => key.kid === decodePart(token, 0).kid)
    if (!jwk) throw new Error('the subject token was signed with a key the IdP does not publish')
    const firstExchange = await checkAnswers(
      `${issuer}/token`,
      { method: 'POST', headers: appAHeaders, body: exchangeBody(token) },
      'IdP token exchange',
    )
    const crypto = measureCryptoBound({
      subjectToken: token,
      subjectKey: createPublicKey({ key: jwk, format: 'jwk' }),
      issuedClaims: decodePart(String(firstExchange.access_token), 1),
      durationMs: settings.cryptoDurationMs,
    })
    progress('crypto floor measured; subject tokens ready')
    const wrk = `${wrkVersion}, 1 thread, HTTP/1.1 keep-alive, no pipelining`

    if (wants('baseline')) {
      const service = services.get('baseline')!
      const headers = {
        authorization: basicAuthorization(BASELINE_CLIENT_ID, BASELINE_CLIENT_SECRET),
        'content-type': FORM,
      }
      const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'read' })
      const answer = await checkAnswers(
        `${service.url}/token`,
        { method: 'POST', headers, body: body.toString() },
        'baseline client_credentials',
      )
      if (String(answer.access_token).split('.').length !== 3)
        throw new Error('baseline: access token is not a JWT')
      phases.push({
        id: 'baseline',
        title: 'baseline: oidc-provider client_credentials',
        request:
          'POST /token grant_type=client_credentials, client_secret_basic → ES256 JWT access token',
        process: 'node + tsx, bench/servers/baseline.ts (plain node:http)',
        available: true,
        distinctTokens: 0,
        ...(await loadPhase(
          service,
          settings,
          [{ method: 'POST', path: '/token', headers, body: body.toString() }],
          { paced: false },
        )),
      })
    }

    progress('baseline done')
    if (wants('idp')) {
      const service = services.get('idp')!
      await exchangeAll(service.url, 'IdP token exchange')
      phases.push({
        id: 'idp',
        title: 'embedded IdP: RFC 8693 grant',
        request:
          'POST /token RFC 8693, app-a for app-b, client_secret_basic → ES256 JWT access token',
        process: 'node + tsx, buildIdp (abuse limits off)',
        available: true,
        distinctTokens: pool.tokens.length,
        ...(await loadPhase(service, settings, await exchangeRequests(), { paced: true })),
      })
    }

    progress('idp done')
    if (wants('sts')) {
      const service = services.get('sts')!
      await exchangeAll(service.url, 'STS token exchange')
      const requests = await exchangeRequests()
      const single = await loadPhase(service, settings, requests, { paced: true })
      let clustered: Phase['clustered']
      if (settings.clusterWorkers >= 2 && single.peak) {
        const clusterService = await startService({
          kind: 'sts',
          port: await freePort(),
          env,
          logLevel: settings.logLevel,
          workers: settings.clusterWorkers,
        })
        try {
          await exchangeAll(clusterService.url, 'STS (cluster) token exchange')
          const result = await loadPhase(
            clusterService,
            // At least 10 connections: two workers with one connection would idle half the time.
            { ...settings, connections: [Math.max(10, single.peak.connections)] },
            requests,
            { paced: false, perProcess: true },
          )
          clustered = {
            workers: settings.clusterWorkers,
            process: 'node:cluster + tsx, bench/servers/main.ts',
            run: result.peak!,
            peakRssBytes: result.peakRssBytes,
          }
        } finally {
          await clusterService.stop()
        }
      }
      phases.push({
        id: 'sts',
        title: 'onbehalf STS: RFC 8693 exchange',
        request:
          'POST /token RFC 8693, app-a for app-b, client_secret_basic → ES256 JWT access token',
        process: `node ${[...settings.stsNodeFlags, ''].join(' ')}dist/cli/main.js sts (compiled, one process)`,
        available: true,
        distinctTokens: pool.tokens.length,
        ...single,
        clustered,
      })
    }

    progress('sts done')
    const appBTokens =
      wants('app-b') || wants('app-b-fresh')
        ? await exchangeAll(issuer, 'IdP token exchange for App B')
        : []
    const appBRequests = appBTokens.map((accessToken): HttpRequest => ({
      method: 'GET',
      path: '/api/todos/count',
      headers: { authorization: `Bearer ${accessToken}` },
    }))
    if (appBTokens.length > 0) {
      freshVerify = await measureFreshVerify({
        issuer,
        jwks,
        audience: 'app-b',
        allowedCallers: ['app-a'],
        requiredScopes: [APP_B_SCOPE],
        tokens: appBTokens,
        rounds: settings.mode === 'smoke' ? 1 : 5,
        roundMs: settings.mode === 'smoke' ? 100 : 400,
      })
    }
    progress('fresh verify done')
    if (wants('app-b')) {
      const service = services.get('app-b')!
      await checkAnswers(
        `${service.url}/api/todos/count`,
        { headers: appBRequests[0]!.headers },
        'App B service API',
      )
      phases.push({
        id: 'app-b',
        title: 'App B: /api/todos/count, verified-token cache on',
        request:
          'GET /api/todos/count, exchanged bearer tokens in turn, each seen before (cache hits, as when App A reuses its token)',
        process: 'node + tsx, buildAppB',
        available: true,
        distinctTokens: appBTokens.length,
        ...(await loadPhase(service, settings, appBRequests, { paced: false })),
      })
    }
    if (wants('app-b-fresh')) {
      const service = services.get('app-b-fresh')!
      await checkAnswers(
        `${service.url}/api/todos/count`,
        { headers: appBRequests[0]!.headers },
        'App B service API (cache off)',
      )
      phases.push({
        id: 'app-b-fresh',
        title: 'App B: /api/todos/count, verified-token cache off',
        request:
          'the same requests to an App B with APP_B_VERIFIED_TOKEN_CACHE=off: ES256 signature and claims checked on every request',
        process: 'node + tsx, buildAppB',
        available: true,
        distinctTokens: appBTokens.length,
        ...(await loadPhase(service, settings, appBRequests, { paced: false })),
      })
    }
    if (wants('app-b')) {
      onBehalf = await measureOnBehalf({
        tokenEndpoint: `${issuer}/token`,
        clientId: 'app-a',
        clientSecret,
        appBUrl: services.get('app-b')!.url,
        audience: 'app-b',
        scope: APP_B_SCOPE,
        subjectToken: (await subjectTokens())[0]!,
        durationSeconds: settings.onBehalfSeconds,
      })
    }

    progress('app-b done')
    if (wants('keycloak')) {
      const keycloakUrl = process.env.KEYCLOAK_URL?.trim()
      const base = {
        id: 'keycloak' as const,
        title: 'Keycloak: its own RFC 8693 exchange',
        request:
          'POST /realms/<bench realm>/protocol/openid-connect/token RFC 8693 (standard token exchange V2), app-a for app-b, client_secret_basic → ES256 JWT access token',
      }
      if (!keycloakUrl) {
        phases.push({
          ...base,
          process: 'Keycloak (JVM)',
          available: false,
          reason:
            'KEYCLOAK_URL is not set (onbehalf keycloak up, then KEYCLOAK_URL=http://127.0.0.1:<port>; admin from KC_BOOTSTRAP_ADMIN_USERNAME/PASSWORD)',
          distinctTokens: 0,
          runs: [],
        })
      } else {
        let keycloak: KeycloakBench | undefined
        try {
          keycloak = await prepareKeycloak({
            url: keycloakUrl,
            adminUser: process.env.KC_BOOTSTRAP_ADMIN_USERNAME ?? 'admin',
            adminPassword: process.env.KC_BOOTSTRAP_ADMIN_PASSWORD ?? 'admin',
            clientSecret,
            subjectTokens: settings.subjectTokens,
            marginSeconds: TOKEN_MARGIN_SECONDS,
          })
          progress(
            `keycloak ${keycloak.version} ready (pid ${keycloak.process.pid}, realm ${keycloak.realm})`,
          )
          await keycloak.checkAll()
          const jvm = keycloak.process
          // What the JVM spends with no request at all (timers, GC, JIT), to read the row against.
          const idleSeconds = settings.mode === 'smoke' ? 1 : 5
          const idleBefore = cpuTime(jvm.pid)
          await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000))
          const idleAfter = cpuTime(jvm.pid)
          const idleCpuMsPerSecond =
            Math.round(
              ((idleAfter.user + idleAfter.system - idleBefore.user - idleBefore.system) * 1e4) /
                idleSeconds,
            ) / 10
          const result = await loadPhase(
            {
              url: keycloak.url,
              pid: jvm.pid,
              memory: () => readMemory(jvm.pid),
            },
            { ...settings, warmupSeconds: settings.keycloakWarmupSeconds },
            await keycloak.requests(),
            { paced: true },
          )
          phases.push({
            ...base,
            process: `Keycloak ${keycloak.version} (${jvm.command}, pid ${jvm.pid}, found by its listening port)`,
            available: true,
            distinctTokens: keycloak.tokenCount(),
            ...result,
            keycloak: {
              url: keycloak.url,
              realm: keycloak.realm,
              version: keycloak.version,
              warmupSeconds: settings.keycloakWarmupSeconds,
              idleCpuMsPerSecond,
              process: jvm,
              verification: keycloak.verification,
            },
          })
        } catch (err) {
          if (settings.mode === 'smoke' || process.env.ONBEHALF_REQUIRE_KEYCLOAK) throw err
          phases.push({
            ...base,
            process: 'Keycloak (JVM)',
            available: false,
            reason: `Keycloak at ${keycloakUrl} could not be driven: ${(err as Error).message}`,
            distinctTokens: 0,
            runs: [],
          })
        } finally {
          await keycloak?.close()
        }
      }
    }
    progress('keycloak done')

    let startup: StartupResult | null = null
    if (wants('start')) {
      // The stack under load is stopped first: npm start's time is not the other services'.
      await stopAll()
      startup = await measureStartup({
        root: ROOT,
        runs: settings.startRuns,
        logLevel: settings.logLevel,
      })
      progress('npm start measured')
    }

    const result: BenchResult = {
      schema: RESULT_SCHEMA,
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: describeMachine(),
      loadAverage: { start: loadAtStart, end: loadAverage() },
      settings: { ...settings, loadGenerator: wrk },
      crypto,
      freshVerify,
      phases,
      onBehalf,
      startup,
      targets: evaluateTargets({ crypto, freshVerify, phases, onBehalf, startup }),
    }
    mkdirSync(dirname(out), { recursive: true })
    // Formatted as `npm run lint` checks bench/ (reference.json is a copy of a run).
    writeFileSync(out, await format(JSON.stringify(result), { parser: 'json' }))
    console.log(formatTable(result))
    console.log(`\nwritten: ${out}`)
  } finally {
    await stopAll()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
