/**
 * One bounded load run with autocannon (as a library) against a loopback URL: a fixed number of
 * connections for a fixed time, optionally at a fixed overall rate. Only 2xx answers count as
 * served; anything else is reported so a run that "went fast" by failing is visible.
 */
import autocannon from 'autocannon'

export interface LoadSpec {
  readonly url: string
  readonly method?: 'GET' | 'POST'
  readonly headers?: Record<string, string>
  readonly body?: string
  readonly connections: number
  readonly durationSeconds: number
  /** Requests per second across all connections; omitted: as fast as the server answers. */
  readonly overallRate?: number
  /** Called every 250 ms during the run (e.g. to sample the service's memory). */
  readonly onSample?: () => void
}

export interface LoadResult {
  readonly connections: number
  readonly overallRate: number | null
  readonly durationSeconds: number
  /** 2xx answers. */
  readonly requests: number
  /** 2xx answers per second. */
  readonly requestsPerSecond: number
  /** Latency of 2xx answers in milliseconds (autocannon's resolution: 1 ms). */
  readonly latencyMs: {
    readonly p50: number
    readonly p90: number
    readonly p99: number
    readonly max: number
    readonly mean: number
  }
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
}

const LOOPBACK = /^http:\/\/127\.0\.0\.1:\d+\//

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (!LOOPBACK.test(spec.url)) throw new TypeError(`load targets loopback only, not ${spec.url}`)
  if (!(spec.durationSeconds > 0 && spec.durationSeconds <= 120)) {
    throw new TypeError('durationSeconds must be in (0, 120]')
  }
  const sampler = spec.onSample ? setInterval(spec.onSample, 250) : undefined
  try {
    const result = await autocannon({
      url: spec.url,
      method: spec.method ?? 'GET',
      headers: spec.headers,
      body: spec.body,
      connections: spec.connections,
      duration: spec.durationSeconds,
      timeout: 10,
      ...(spec.overallRate === undefined ? {} : { overallRate: spec.overallRate }),
    })
    const ok = result['2xx']
    const seconds = result.duration > 0 ? result.duration : spec.durationSeconds
    return {
      connections: spec.connections,
      overallRate: spec.overallRate ?? null,
      durationSeconds: round(seconds, 2),
      requests: ok,
      requestsPerSecond: Math.round(ok / seconds),
      latencyMs: {
        p50: result.latency.p50,
        p90: result.latency.p90,
        p99: result.latency.p99,
        max: result.latency.max,
        mean: round(result.latency.mean, 2),
      },
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
    }
  } finally {
    if (sampler) clearInterval(sampler)
  }
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}
