/**
 * The bench's result: one JSON document (schema `onbehalf-bench/2`), the targets of issue 18
 * evaluated on it, and the table printed from it. Every target is a ratio to something measured in
 * the same run (the crypto floor, the baseline), never an absolute time: the machine is shared.
 */
import type { CryptoBound } from './crypto_bound.js'
import type { FreshVerifyResult } from './fresh_verify.js'
import type { LoadResult } from './wrk.js'
import type { MachineInfo } from './machine.js'
import type { OnBehalfResult } from './on_behalf.js'
import type { KeycloakProcess, KeycloakVerification } from './keycloak.js'
import type { StartupResult } from './startup.js'

export const RESULT_SCHEMA = 'onbehalf-bench/2'

export type PhaseId = 'baseline' | 'idp' | 'sts' | 'app-b' | 'app-b-fresh' | 'keycloak'
/** What `--only` can name: the load phases and `start` (npm start's time to ready). */
export type StepId = PhaseId | 'start'

export interface Phase {
  readonly id: PhaseId
  readonly title: string
  /** What one request is. */
  readonly request: string
  /** How the service ran (runtime, process). */
  readonly process: string
  readonly available: boolean
  /** Why the phase did not run. */
  readonly reason?: string
  /** Distinct subject (or bearer) tokens the load went through in turn. */
  readonly distinctTokens: number
  readonly runs: readonly LoadResult[]
  /** The run with the most 2xx answers per second; its CPU per request is the phase's. */
  readonly peak?: LoadResult
  /** Evenly paced at half the peak rate: the latency that counts. */
  readonly paced?: LoadResult
  /** Largest resident set size of the service process seen during the phase. */
  readonly peakRssBytes?: number
  /** The same service under node:cluster, at the peak's connection count. */
  readonly clustered?: {
    readonly workers: number
    readonly process: string
    readonly run: LoadResult
    readonly peakRssBytes?: number
  }
  /** The Keycloak phase: which Keycloak, how it ran, and the exchanged token checked before the load. */
  readonly keycloak?: {
    readonly url: string
    readonly realm: string
    readonly version: string
    readonly warmupSeconds: number
    /** CPU milliseconds per second the JVM used with no request, measured before the load. */
    readonly idleCpuMsPerSecond: number
    readonly process: KeycloakProcess
    readonly verification: KeycloakVerification
  }
}

export interface BenchSettings {
  readonly mode: 'full' | 'smoke'
  readonly connections: readonly number[]
  readonly durationSeconds: number
  readonly warmupSeconds: number
  /** Warm-up of the Keycloak phase (the JVM's JIT), at the largest connection count. */
  readonly keycloakWarmupSeconds: number
  /** Timed `npm start` runs (their median is the figure). */
  readonly startRuns: number
  readonly pacedConnections: number
  /** Distinct subject tokens (real logins) the exchange loads cycle through. */
  readonly subjectTokens: number
  /** Workers of the node:cluster run of the STS (0: none). */
  readonly clusterWorkers: number
  readonly cryptoDurationMs: number
  readonly onBehalfSeconds: number
  /** Log level of the services (written to /dev/null). */
  readonly logLevel: string
  readonly loadGenerator: string
  readonly phases: readonly StepId[]
  readonly cpuProfile: string | null
  /** Node flags of the compiled STS (its deployment's, unless `--sts-node-flags` said otherwise). */
  readonly stsNodeFlags: readonly string[]
}

export type TargetStatus = 'pass' | 'fail' | 'n/a'

export interface Target {
  readonly id: string
  readonly description: string
  readonly value: number | null
  readonly unit: string
  readonly comparison: '>=' | '<='
  readonly threshold: number
  readonly status: TargetStatus
  readonly note?: string
}

export interface BenchResult {
  readonly schema: typeof RESULT_SCHEMA
  readonly startedAt: string
  readonly finishedAt: string
  readonly machine: MachineInfo
  /** 1-minute load average when the run started and ended: how busy the shared machine was. */
  readonly loadAverage: { readonly start: number; readonly end: number }
  readonly settings: BenchSettings
  readonly crypto: CryptoBound
  readonly freshVerify: FreshVerifyResult | null
  readonly phases: readonly Phase[]
  readonly onBehalf: OnBehalfResult | null
  /** `npm start`'s time to ready, when measured. */
  readonly startup: StartupResult | null
  readonly targets: readonly Target[]
}

const MB = 1024 * 1024
const number = (value: number) => Math.round(value).toLocaleString('en-US')

function target(
  id: string,
  description: string,
  value: number | null | undefined,
  unit: string,
  comparison: '>=' | '<=',
  threshold: number,
  unavailable?: string,
): Target {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return {
      id,
      description,
      value: null,
      unit,
      comparison,
      threshold,
      status: 'n/a',
      note: unavailable ?? 'not measured',
    }
  }
  const ok = comparison === '>=' ? value >= threshold : value <= threshold
  return {
    id,
    description,
    value: Math.round(value * 100) / 100,
    unit,
    comparison,
    threshold,
    status: ok ? 'pass' : 'fail',
  }
}

/** CPU µs per answered request of a phase: that of its peak run. */
export function cpuPerRequest(phase: Phase | undefined): number | undefined {
  return phase?.available ? phase.peak?.cpuPerRequestUs : undefined
}

/** Issue 18's targets, each judged by CPU per request against the same run's floor or baseline. */
export function evaluateTargets(input: {
  crypto: CryptoBound
  freshVerify: FreshVerifyResult | null
  phases: readonly Phase[]
  onBehalf: OnBehalfResult | null
  startup: StartupResult | null
}): Target[] {
  const phase = (id: PhaseId) => input.phases.find((p) => p.id === id)
  const missing = (id: PhaseId) => {
    const p = phase(id)
    // The reason itself is printed on the phase's row.
    return p?.available ? undefined : `no ${id} run`
  }
  const baseline = cpuPerRequest(phase('baseline'))
  const sts = cpuPerRequest(phase('sts'))
  const idp = cpuPerRequest(phase('idp'))
  const keycloak = cpuPerRequest(phase('keycloak'))
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b > 0 ? a / b : null
  const stsRss = phase('sts')?.peakRssBytes
  return [
    target(
      'sts.cpu_vs_floor',
      'STS CPU per exchange ÷ crypto floor (ES256 verify+sign)',
      ratio(sts, input.crypto.floorUs),
      '×',
      '<=',
      2,
      missing('sts'),
    ),
    target(
      'sts.cpu_vs_baseline',
      'STS CPU per exchange ÷ baseline CPU per token',
      ratio(sts, baseline),
      '×',
      '<=',
      0.5,
      missing('sts') ?? missing('baseline'),
    ),
    target(
      'idp.cpu_vs_baseline',
      'embedded IdP CPU per exchange ÷ baseline CPU per token',
      ratio(idp, baseline),
      '×',
      '<=',
      1,
      missing('idp') ?? missing('baseline'),
    ),
    target(
      'sts.p99_paced',
      'STS p99, evenly paced at half its peak rate',
      phase('sts')?.paced?.latencyMs.p99,
      'ms',
      '<=',
      5,
      missing('sts'),
    ),
    target(
      'idp.p99_paced',
      'embedded IdP p99, evenly paced at half its peak rate',
      phase('idp')?.paced?.latencyMs.p99,
      'ms',
      '<=',
      5,
      missing('idp'),
    ),
    target(
      'sts.rss',
      'STS (compiled, one process) resident memory under load',
      stsRss === undefined ? null : stsRss / MB,
      'MB',
      '<=',
      100,
      missing('sts'),
    ),
    target(
      'app_b.fresh_verify',
      "App B's verifier on a fresh token ÷ one ES256 verify",
      input.freshVerify?.ratio,
      '×',
      '<=',
      1.5,
    ),
    target(
      'keycloak.cpu_vs_sts',
      'Keycloak CPU per exchange ÷ STS CPU per exchange',
      ratio(keycloak, sts),
      '×',
      '>=',
      10,
      missing('keycloak') ?? missing('sts'),
    ),
    target(
      'start.ready',
      'npm start, warm: spawn → every service ready (median)',
      input.startup?.medianReadyMs,
      'ms',
      '<=',
      1500,
    ),
    target(
      'on_behalf.cached_added_p50',
      'cached on-behalf call, added p50 over a direct App B call',
      input.onBehalf?.addedP50Ms.hit,
      'ms',
      '<=',
      2,
    ),
  ]
}

const pad = (text: string, width: number) => text.padStart(width)
const fixed = (value: number | undefined, digits: number) =>
  value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits)

export function formatTable(result: BenchResult): string {
  const { machine, settings, crypto } = result
  const lines: string[] = []
  lines.push(
    `onbehalf bench (${settings.mode}) — ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform} ${machine.arch}, load average ${result.loadAverage.start} → ${result.loadAverage.end}`,
  )
  lines.push(
    `load: ${settings.loadGenerator}; ${settings.durationSeconds} s per run after ${settings.warmupSeconds} s warm-up; ${settings.subjectTokens} distinct subject tokens; services log at ${settings.logLevel} to /dev/null`,
  )
  lines.push(
    'CPU per request = utime+stime of the service process (/proc/<pid>/stat, children included) during the run ÷ 2xx answers',
  )
  lines.push('')
  lines.push(
    `crypto floor, one core (node:crypto): ES256 verify ${number(crypto.verifyPerSecond)}/s · sign ${number(crypto.signPerSecond)}/s · verify+sign = ${crypto.floorUs} µs per exchange`,
  )
  if (result.freshVerify) {
    const f = result.freshVerify
    lines.push(
      `App B verifier, fresh token (cache off, ${f.tokens} tokens): ${f.verifierUs} µs vs bare ES256 verify ${f.es256VerifyUs} µs = ${f.ratio}×`,
    )
  }
  lines.push('')
  const baseline = cpuPerRequest(result.phases.find((p) => p.id === 'baseline'))
  lines.push(
    `${'phase'.padEnd(46)}${pad('conns', 6)}${pad('paced', 7)}${pad('req/s', 8)}${pad('CPU µs', 8)}${pad('sys', 5)}${pad('×floor', 7)}${pad('×base', 7)}${pad('p50', 8)}${pad('p99', 8)}${pad('max', 8)}${pad('non2xx', 7)}${pad('err', 5)}${pad('RSS MB', 7)}`,
  )
  const row = (label: string, run: LoadResult, rssCell: string) =>
    `${label.padEnd(46)}${pad(String(run.connections), 6)}${pad(run.pacedRate === null ? '-' : number(run.pacedRate), 7)}${pad(number(run.requestsPerSecond), 8)}${pad(fixed(run.cpuPerRequestUs, 0), 8)}${pad(`${Math.round(run.systemShare * 100)}%`, 5)}${pad(fixed(run.cpuPerRequestUs / crypto.floorUs, 2), 7)}${pad(baseline ? fixed(run.cpuPerRequestUs / baseline, 2) : '-', 7)}${pad(fixed(run.latencyMs.p50, 2), 8)}${pad(fixed(run.latencyMs.p99, 2), 8)}${pad(fixed(run.latencyMs.max, 1), 8)}${pad(String(run.non2xx), 7)}${pad(String(run.errors + run.timeouts), 5)}${pad(rssCell, 7)}`
  for (const phase of result.phases) {
    if (!phase.available) {
      lines.push(`${phase.title.padEnd(46)}skipped: ${phase.reason ?? 'not available'}`)
      continue
    }
    const rss = phase.peakRssBytes === undefined ? '-' : String(Math.round(phase.peakRssBytes / MB))
    lines.push(`${phase.title}  [${phase.process}; ${phase.distinctTokens} distinct tokens]`)
    phase.runs.forEach((run) => {
      const label = run === phase.peak ? '  peak' : ''
      lines.push(row(label, run, run === phase.peak ? rss : ''))
    })
    if (phase.paced) lines.push(row('  evenly paced at half the peak rate', phase.paced, ''))
    if (phase.clustered) {
      const c = phase.clustered
      lines.push(
        row(
          `  node:cluster, ${c.workers} workers (CPU, RSS: all)`,
          c.run,
          c.peakRssBytes ? String(Math.round(c.peakRssBytes / MB)) : '',
        ),
      )
      const single = phase.peak
      const perCpuSecond = (run: LoadResult) => run.requests / Math.max(run.cpuSeconds, 1e-9)
      const split = (c.run.processes ?? [])
        .map((p) => `${p.role} ${p.pid} ${p.cpuSeconds} s`)
        .join(', ')
      lines.push(
        `    per core: ${number(perCpuSecond(c.run))} answers per CPU-second (one process: ${single ? number(perCpuSecond(single)) : '-'}); ${number(c.run.requestsPerSecond / c.workers)} req/s per worker; CPU by process: ${split || '-'}`,
      )
    }
    if (phase.keycloak) {
      const k = phase.keycloak
      const v = k.verification
      const sts = cpuPerRequest(result.phases.find((p) => p.id === 'sts'))
      const idp = cpuPerRequest(result.phases.find((p) => p.id === 'idp'))
      const own = phase.peak?.cpuPerRequestUs
      const times = (other: number | undefined) =>
        own !== undefined && other ? `${(own / other).toFixed(1)}×` : '-'
      lines.push(
        `    CPU per exchange ÷ onbehalf STS ${times(sts)}, ÷ embedded IdP ${times(idp)}; req/s ÷ STS ${phase.peak && result.phases.find((p) => p.id === 'sts')?.peak ? (phase.peak.requestsPerSecond / result.phases.find((p) => p.id === 'sts')!.peak!.requestsPerSecond).toFixed(2) : '-'}×; warm-up ${k.warmupSeconds} s; idle JVM ${k.idleCpuMsPerSecond} ms CPU/s`,
      )
      lines.push(
        `    checked before the load: ${v.alg} ${v.typ ?? ''} signature verified with ${v.issuer}/protocol/openid-connect/certs; aud ${v.aud.join(',')}; sub = demo (${v.sub}); azp ${v.azp}; no act`,
      )
      const settingsUsed = [
        ...k.process.arguments.filter(
          (arg) =>
            /^(start|--|-X)/.test(arg) && !/^(--add-opens|--enable-native|-XX:Flight)/.test(arg),
        ),
        ...Object.entries(k.process.environment).map(([name, value]) => `${name}=${value}`),
      ]
      lines.push(`    JVM settings: ${settingsUsed.join(' ')}`)
    }
  }
  if (result.onBehalf) {
    const { direct, hit, miss, addedP50Ms } = result.onBehalf
    lines.push('')
    lines.push('on-behalf call, App A client → App B, one at a time (ms)   p50      p99   calls')
    lines.push(
      `  direct (token in hand)                                  ${pad(direct.p50Ms.toFixed(3), 7)}  ${pad(direct.p99Ms.toFixed(3), 7)}  ${pad(String(direct.calls), 6)}`,
    )
    lines.push(
      `  cache hit (exchange step from cache)                    ${pad(hit.p50Ms.toFixed(3), 7)}  ${pad(hit.p99Ms.toFixed(3), 7)}  ${pad(String(hit.calls), 6)}   adds ${addedP50Ms.hit.toFixed(3)} ms at p50`,
    )
    lines.push(
      `  cache miss (exchange at the IdP first)                  ${pad(miss.p50Ms.toFixed(3), 7)}  ${pad(miss.p99Ms.toFixed(3), 7)}  ${pad(String(miss.calls), 6)}   adds ${addedP50Ms.miss.toFixed(3)} ms at p50`,
    )
  }
  if (result.startup) {
    const s = result.startup
    lines.push('')
    lines.push(
      `npm start, warm (spawn → "onbehalf is running" and every /readyz 200): median ${s.medianReadyMs} ms of ${s.runs.map((r) => r.readyMs).join(', ')} ms; first start (keys, databases) ${s.firstStartMs} ms; build step alone ${s.buildStepMs} ms; node dist/cli/main.js start ${s.withoutNpmMs} ms`,
    )
  }
  lines.push('')
  lines.push('targets')
  for (const t of result.targets) {
    const status = t.status === 'pass' ? 'PASS' : t.status === 'fail' ? 'FAIL' : 'n/a '
    const value =
      t.value === null ? (t.note ?? '-') : `${t.value.toLocaleString('en-US')} ${t.unit}`
    lines.push(
      `  ${status}  ${t.description.padEnd(58)} ${value.padStart(10)}  (${t.comparison} ${t.threshold.toLocaleString('en-US')} ${t.unit})`,
    )
  }
  return lines.join('\n')
}
