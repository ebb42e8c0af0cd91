/**
 * One bounded load run with wrk (a C load generator, one thread: the other core is the server's)
 * against a loopback service, with the service's CPU time read from /proc before and after.
 *
 * The requests are given in full and sent in turn (bench/lib/wrk_load.lua), so a run can carry
 * many distinct subject or bearer tokens. Unpaced, every connection sends its next request as soon
 * as the answer is in (peak throughput). Paced, each connection waits a random 0.5–1.5× of its
 * share of the interval after each answer: evenly spread requests at about the chosen rate, so
 * latency is measured without the bursts (and without the coordinated-omission "correction")
 * that made earlier p99 figures meaningless. Only 2xx answers count as served.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { cpuTime, cpuTimeByProcess } from './cpu.js'

const run = promisify(execFile)
const SCRIPT = fileURLToPath(new URL('./wrk_load.lua', import.meta.url))
const LOOPBACK = /^http:\/\/127\.0\.0\.1:(\d+)$/

export interface HttpRequest {
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

export interface LoadSpec {
  /** `http://127.0.0.1:<port>`, nothing else. */
  readonly baseUrl: string
  /** Sent in turn, round and round. */
  readonly requests: readonly HttpRequest[]
  readonly connections: number
  /** Whole seconds (wrk's unit). */
  readonly durationSeconds: number
  /** Requests per second across all connections, evenly paced; omitted: as fast as answered. */
  readonly pacedRate?: number
  /** Paced: the expected answer time, taken off each connection's pause. */
  readonly answerMs?: number
  /** The service process whose CPU time is read (its children included). */
  readonly pid: number
  /** Called every 250 ms during the run (e.g. to sample the service's memory). */
  readonly onSample?: () => void
  /** Also report the CPU of each process (the node:cluster primary and its workers). */
  readonly perProcess?: boolean
}

/** One process's share of a run's CPU (node:cluster: the primary and each worker). */
interface ProcessCpu {
  readonly pid: number
  readonly role: 'primary' | 'worker'
  readonly cpuSeconds: number
}

export interface LoadResult {
  readonly connections: number
  /** The rate asked for when paced, else null. */
  readonly pacedRate: number | null
  readonly durationSeconds: number
  /** 2xx answers. */
  readonly requests: number
  /** 2xx answers per second. */
  readonly requestsPerSecond: number
  /** Latency in milliseconds, from wrk's histogram (microsecond resolution). */
  readonly latencyMs: {
    readonly p50: number
    readonly p90: number
    readonly p99: number
    readonly max: number
    readonly mean: number
  }
  readonly non2xx: number
  /** Connect, read and write errors. */
  readonly errors: number
  readonly timeouts: number
  /** CPU seconds (utime + stime) the service used during the run. */
  readonly cpuSeconds: number
  /** The kernel's part of cpuSeconds (stime ÷ utime+stime). */
  readonly systemShare: number
  /** cpuSeconds ÷ 2xx answers, in microseconds. */
  readonly cpuPerRequestUs: number
  /** With `perProcess`: the CPU of each process of the service during the run. */
  readonly processes?: readonly ProcessCpu[]
}

interface WrkOutput {
  readonly requests: number
  readonly durationUs: number
  readonly errors: {
    readonly connect: number
    readonly read: number
    readonly write: number
    readonly status: number
    readonly timeout: number
  }
  readonly latencyUs: {
    readonly p50: number
    readonly p90: number
    readonly p99: number
    readonly max: number
    readonly mean: number
  }
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

function rawRequest(request: HttpRequest, host: string): string {
  const body = request.body ?? ''
  if (body.includes('\0')) throw new TypeError('a request body may not hold a NUL byte')
  const headers = Object.entries(request.headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
  const length = request.method === 'POST' ? `content-length: ${Buffer.byteLength(body)}\r\n` : ''
  return `${request.method} ${request.path} HTTP/1.1\r\nhost: ${host}\r\n${headers}${length}\r\n${body}`
}

/** Where wrk is: $WRK, else on the PATH. */
export function wrkCommand(): string {
  return process.env.WRK ?? 'wrk'
}

/** Fails with a plain reason when wrk is missing, before anything is started. */
export async function checkWrk(): Promise<string> {
  try {
    const { stdout, stderr } = await run(wrkCommand(), ['-v']).catch(
      (err: { stdout?: string; stderr?: string; code?: unknown }) => {
        // wrk -v prints its version and exits 1.
        if (typeof err.stdout === 'string' && /wrk/.test(err.stdout + (err.stderr ?? '')))
          return { stdout: err.stdout, stderr: err.stderr ?? '' }
        throw err
      },
    )
    return (stdout + stderr).split('\n')[0]!.trim()
  } catch {
    throw new Error(
      `wrk not found (${wrkCommand()}): install it (Debian: apt-get install wrk) or set WRK`,
    )
  }
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const match = LOOPBACK.exec(spec.baseUrl)
  if (!match) throw new TypeError(`load targets loopback only, not ${spec.baseUrl}`)
  if (!(
    Number.isInteger(spec.durationSeconds) &&
    spec.durationSeconds >= 1 &&
    spec.durationSeconds <= 120
  )) {
    throw new TypeError('durationSeconds: whole seconds in [1, 120]')
  }
  if (spec.requests.length === 0) throw new TypeError('requests: at least one')
  const host = `127.0.0.1:${match[1]}`
  const dir = mkdtempSync(join(tmpdir(), 'onbehalf-wrk-'))
  const file = join(dir, 'requests')
  writeFileSync(file, spec.requests.map((request) => rawRequest(request, host)).join('\0'))
  const env: Record<string, string> = { ...process.env, BENCH_REQUESTS: file } as Record<
    string,
    string
  >
  if (spec.pacedRate !== undefined) {
    if (!(spec.pacedRate > 0)) throw new TypeError('pacedRate must be positive')
    // Each connection's share of the interval, less the answer time: wrk starts the pause when
    // the answer is in. The rate achieved is reported as measured, beside the rate asked.
    const interval = (spec.connections * 1000) / spec.pacedRate
    env.BENCH_DELAY_MS = String(Math.max(0.5, interval - (spec.answerMs ?? 0)))
  }
  const sampler = spec.onSample ? setInterval(spec.onSample, 250) : undefined
  const byProcessBefore = spec.perProcess ? cpuTimeByProcess(spec.pid) : undefined
  const cpuBefore = cpuTime(spec.pid)
  let stdout: string
  try {
    ;({ stdout } = await run(
      wrkCommand(),
      [
        '-t1',
        `-c${spec.connections}`,
        `-d${spec.durationSeconds}s`,
        '--timeout',
        '10s',
        '-s',
        SCRIPT,
        spec.baseUrl,
      ],
      { env, timeout: (spec.durationSeconds + 30) * 1000, maxBuffer: 1024 * 1024 },
    ))
  } finally {
    if (sampler) clearInterval(sampler)
    rmSync(dir, { recursive: true, force: true })
  }
  const cpuAfter = cpuTime(spec.pid)
  let processes: ProcessCpu[] | undefined
  if (byProcessBefore) {
    processes = [...cpuTimeByProcess(spec.pid)].map(([pid, after]) => {
      const before = byProcessBefore.get(pid) ?? { user: 0, system: 0 }
      return {
        pid,
        role: pid === spec.pid ? 'primary' : 'worker',
        cpuSeconds: round(after.user + after.system - before.user - before.system, 2),
      }
    })
  }
  const system = cpuAfter.system - cpuBefore.system
  const cpu = cpuAfter.user - cpuBefore.user + system
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '))
  if (!line) throw new Error(`wrk printed no result:\n${stdout}`)
  const out = JSON.parse(line.slice('BENCH_RESULT '.length)) as WrkOutput
  const seconds = out.durationUs / 1e6
  const ok = out.requests - out.errors.status
  const ms = (us: number) => round(us / 1000, 3)
  return {
    connections: spec.connections,
    pacedRate: spec.pacedRate === undefined ? null : Math.round(spec.pacedRate),
    durationSeconds: round(seconds, 2),
    requests: ok,
    requestsPerSecond: Math.round(ok / seconds),
    latencyMs: {
      p50: ms(out.latencyUs.p50),
      p90: ms(out.latencyUs.p90),
      p99: ms(out.latencyUs.p99),
      max: ms(out.latencyUs.max),
      mean: ms(out.latencyUs.mean),
    },
    non2xx: out.errors.status,
    errors: out.errors.connect + out.errors.read + out.errors.write,
    timeouts: out.errors.timeout,
    cpuSeconds: round(cpu, 2),
    systemShare: cpu > 0 ? round(system / cpu, 2) : 0,
    cpuPerRequestUs: ok > 0 ? round((cpu * 1e6) / ok, 1) : Number.NaN,
    ...(processes ? { processes } : {}),
  }
}
