/**
 * The bench's result: one JSON document (schema `onbehalf-bench/1`), the targets of issue 8
 * evaluated on it, and the table printed from it.
 */
import type { CryptoBound } from './crypto_bound.js'
import type { LoadResult } from './load.js'
import type { MachineInfo } from './machine.js'
import type { OnBehalfResult } from './on_behalf.js'

export const RESULT_SCHEMA = 'onbehalf-bench/1'

export type PhaseId = 'baseline' | 'idp' | 'sts' | 'app-b'

export interface Phase {
  readonly id: PhaseId
  readonly title: string
  /** What one request is. */
  readonly request: string
  readonly available: boolean
  /** Why the phase did not run. */
  readonly reason?: string
  readonly runs: readonly LoadResult[]
  /** The run with the most 2xx answers per second. */
  readonly peak?: LoadResult
  /** A run at half the peak rate (exchange phases). */
  readonly halfPeak?: LoadResult
  /** Largest resident set size of the service process seen during the phase. */
  readonly peakRssBytes?: number
  /** The same service under node:cluster, at the peak's connection count. */
  readonly clustered?: {
    readonly workers: number
    readonly run: LoadResult
    readonly peakRssBytes?: number
  }
  /** App B: its verified-token cache during the runs above (`APP_B_VERIFIED_TOKEN_CACHE`). */
  readonly verifiedTokenCache?: 'on' | 'off'
  /**
   * App B again with `APP_B_VERIFIED_TOKEN_CACHE=off`, same token and runs: every request pays the
   * full verification (signature + claims). Shown beside the cached number, never judged.
   */
  readonly uncached?: {
    readonly title: string
    readonly request: string
    readonly verifiedTokenCache: 'off'
    readonly runs: readonly LoadResult[]
    readonly peak?: LoadResult
    readonly peakRssBytes?: number
    readonly clustered?: Phase['clustered']
  }
}

export interface BenchSettings {
  readonly mode: 'full' | 'smoke'
  readonly connections: readonly number[]
  readonly durationSeconds: number
  readonly warmupSeconds: number
  readonly halfPeakConnections: number
  /** Workers of the node:cluster runs of the STS and App B (0: none). */
  readonly clusterWorkers: number
  readonly cryptoDurationMs: number
  readonly onBehalfSeconds: number
  /** Log level of the services (written to /dev/null). */
  readonly logLevel: string
  readonly loadGenerator: string
  readonly phases: readonly PhaseId[]
  readonly cpuProfile: string | null
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
  readonly settings: BenchSettings
  readonly crypto: CryptoBound
  readonly phases: readonly Phase[]
  readonly onBehalf: OnBehalfResult | null
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

/** Most 2xx answers per second of a phase, single process or node:cluster. */
export function best(phase: Phase): number | undefined {
  const single = phase.peak?.requestsPerSecond
  const clustered = phase.clustered?.run.requestsPerSecond
  if (single === undefined) return clustered
  return Math.max(single, clustered ?? 0)
}

/** Issue 8's targets. They apply to the STS; the embedded IdP's grant gets the same ratios, for information. */
export function evaluateTargets(input: {
  crypto: CryptoBound
  phases: readonly Phase[]
  onBehalf: OnBehalfResult | null
}): Target[] {
  const phase = (id: PhaseId) => input.phases.find((p) => p.id === id)
  const baseline = phase('baseline')?.peak?.requestsPerSecond
  const sts = phase('sts')
  const stsMissing = sts?.available ? undefined : (sts?.reason ?? 'STS not available')
  const stsPeak = sts?.available ? best(sts) : undefined
  const appBPhase = phase('app-b')
  const appB = appBPhase ? best(appBPhase) : undefined
  const appBUncached = appBPhase?.uncached
    ? best({ ...appBPhase, ...appBPhase.uncached })
    : undefined
  const appBTarget = target(
    'app_b.verified_rps',
    'App B service API with token verification',
    appB,
    'req/s',
    '>=',
    10_000,
  )
  return [
    target(
      'sts.vs_baseline',
      'STS exchanges/s ÷ client_credentials baseline',
      stsPeak && baseline ? stsPeak / baseline : null,
      '×',
      '>=',
      3,
      stsMissing,
    ),
    target(
      'sts.vs_crypto_bound',
      'STS exchanges/s ÷ one-core crypto bound (verify+sign)',
      stsPeak ? stsPeak / input.crypto.pairsPerSecond : null,
      '×',
      '>=',
      0.5,
      stsMissing,
    ),
    target(
      'sts.p99_at_half_peak',
      'STS p99 at half the peak rate',
      sts?.halfPeak?.latencyMs.p99,
      'ms',
      '<=',
      10,
      stsMissing,
    ),
    target(
      'sts.rss',
      'STS resident memory under load',
      sts?.peakRssBytes === undefined ? null : sts.peakRssBytes / MB,
      'MB',
      '<=',
      150,
      stsMissing,
    ),
    appBUncached === undefined || appBTarget.status === 'n/a'
      ? appBTarget
      : {
          ...appBTarget,
          note: `judged with the verified-token cache on (one exchanged token reused, as App A does); every request verified (cache off): ${number(appBUncached)} req/s`,
        },
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

export function formatTable(result: BenchResult): string {
  const { machine, settings, crypto } = result
  const lines: string[] = []
  lines.push(
    `onbehalf bench (${settings.mode}) — ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform} ${machine.arch}`,
  )
  lines.push(
    `load: ${settings.loadGenerator}, ${settings.durationSeconds} s per run after ${settings.warmupSeconds} s warm-up, services log at ${settings.logLevel}`,
  )
  lines.push('')
  lines.push(
    `crypto bound, one core (node:crypto): verify ${crypto.verifyAlgorithm} ${number(crypto.verifyPerSecond)}/s · sign ${crypto.signAlgorithm} ${number(crypto.signPerSecond)}/s · verify+sign ${number(crypto.pairsPerSecond)}/s`,
  )
  lines.push('')
  lines.push(
    `${'phase'.padEnd(44)}${pad('conns', 6)}${pad('rate', 7)}${pad('req/s', 9)}${pad('p50', 6)}${pad('p99', 6)}${pad('max', 6)}${pad('non2xx', 8)}${pad('errors', 8)}${pad('rss MB', 8)}`,
  )
  const uncachedLines: string[] = []
  const row = (label: string, run: LoadResult, rssCell: string) =>
    `${label.padEnd(44)}${pad(String(run.connections), 6)}${pad(run.overallRate === null ? 'max' : number(run.overallRate), 7)}${pad(number(run.requestsPerSecond), 9)}${pad(String(run.latencyMs.p50), 6)}${pad(String(run.latencyMs.p99), 6)}${pad(String(run.latencyMs.max), 6)}${pad(String(run.non2xx), 8)}${pad(String(run.errors + run.timeouts), 8)}${pad(rssCell, 8)}`
  for (const phase of result.phases) {
    if (!phase.available) {
      lines.push(`${phase.title.padEnd(44)}  ${phase.reason ?? 'not available'}`)
      continue
    }
    const rss = phase.peakRssBytes === undefined ? '-' : String(Math.round(phase.peakRssBytes / MB))
    const rows = [
      ...phase.runs,
      ...(phase.halfPeak ? [phase.halfPeak] : []),
      ...(phase.clustered ? [phase.clustered.run] : []),
    ]
    const uncached = phase.uncached
    const uncachedRows = uncached
      ? [...uncached.runs, ...(uncached.clustered ? [uncached.clustered.run] : [])]
      : []
    uncachedRows.forEach((run, index) => {
      const label =
        index === 0
          ? uncached!.title
          : run === uncached!.clustered?.run
            ? `  node:cluster, ${uncached!.clustered.workers} workers (rss: all)`
            : ''
      const rssCell =
        index === 0
          ? uncached!.peakRssBytes === undefined
            ? '-'
            : String(Math.round(uncached!.peakRssBytes / MB))
          : run === uncached!.clustered?.run && uncached!.clustered.peakRssBytes
            ? String(Math.round(uncached!.clustered.peakRssBytes / MB))
            : ''
      uncachedLines.push(row(label, run, rssCell))
    })
    rows.forEach((run, index) => {
      const label =
        index === 0
          ? phase.title
          : run === phase.halfPeak
            ? '  at half the peak rate'
            : run === phase.clustered?.run
              ? `  node:cluster, ${phase.clustered.workers} workers (rss: all)`
              : ''
      const rssCell =
        index === 0
          ? rss
          : run === phase.clustered?.run && phase.clustered.peakRssBytes
            ? String(Math.round(phase.clustered.peakRssBytes / MB))
            : ''
      lines.push(row(label, run, rssCell))
    })
    lines.push(...uncachedLines.splice(0))
  }
  const baseline = result.phases.find((p) => p.id === 'baseline')?.peak?.requestsPerSecond
  const idp = result.phases.find((p) => p.id === 'idp')
  if (idp?.peak && baseline) {
    lines.push('')
    lines.push(
      `embedded IdP grant (for information): ${(idp.peak.requestsPerSecond / baseline).toFixed(2)}× baseline, ${(idp.peak.requestsPerSecond / crypto.pairsPerSecond).toFixed(2)}× crypto bound, p99 at half peak ${idp.halfPeak?.latencyMs.p99 ?? '-'} ms`,
    )
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
      `  cache miss (exchange at ${result.onBehalf.tokenEndpoint.replace(/^http:\/\/127\.0\.0\.1:\d+/, '')} first)${' '.repeat(Math.max(1, 24 - result.onBehalf.tokenEndpoint.replace(/^http:\/\/127\.0\.0\.1:\d+/, '').length))}${pad(miss.p50Ms.toFixed(3), 7)}  ${pad(miss.p99Ms.toFixed(3), 7)}  ${pad(String(miss.calls), 6)}   adds ${addedP50Ms.miss.toFixed(3)} ms at p50`,
    )
  }
  lines.push('')
  lines.push('targets')
  for (const t of result.targets) {
    const status = t.status === 'pass' ? 'PASS' : t.status === 'fail' ? 'FAIL' : 'n/a '
    const value =
      t.value === null ? (t.note ?? '-') : `${t.value.toLocaleString('en-US')} ${t.unit}`
    lines.push(
      `  ${status}  ${t.description.padEnd(62)} ${value.padStart(14)}  (${t.comparison} ${t.threshold.toLocaleString('en-US')} ${t.unit})`,
    )
    if (t.value !== null && t.note) lines.push(`        note: ${t.note}`)
  }
  return lines.join('\n')
}
