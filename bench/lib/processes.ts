/**
 * Services under load run in their own process (bench/servers/main.ts): the load generator in
 * this process never shares an event loop with them, their resident memory is read from
 * /proc/<pid>/status, and `--cpu-prof` can be given to one of them alone.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export type ServiceKind = 'idp' | 'app-b' | 'baseline' | 'sts'

export interface ServiceSpec {
  readonly kind: ServiceKind
  readonly port: number
  /** Source for `loadEnv` in the child. */
  readonly env: Record<string, string>
  readonly logLevel: string
  /** More than 1: node:cluster with that many worker processes sharing the port. */
  readonly workers?: number
}

export interface ServiceProcess {
  readonly kind: ServiceKind
  readonly url: string
  readonly pid: number
  /** Current and peak resident set size in bytes (Linux) of the (primary) process, or undefined. */
  memory(): { rssBytes: number; peakRssBytes: number } | undefined
  stop(): Promise<void>
}

const ENTRY = fileURLToPath(new URL('../servers/main.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')

/** Services need their URL up front: a port the OS will not hand to an outgoing connection. */
export { freePort } from '../../test/helpers/ports.js'

/** RSS of the process plus its children (node:cluster workers). */
export function readMemory(pid: number): { rssBytes: number; peakRssBytes: number } | undefined {
  const own = readOwnMemory(pid)
  if (!own) return undefined
  let children: number[] = []
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
  } catch {
    // no children listed
  }
  return children.map(readOwnMemory).reduce<{ rssBytes: number; peakRssBytes: number }>(
    (sum, child) =>
      child
        ? {
            rssBytes: sum.rssBytes + child.rssBytes,
            peakRssBytes: sum.peakRssBytes + child.peakRssBytes,
          }
        : sum,
    own,
  )
}

function readOwnMemory(pid: number): { rssBytes: number; peakRssBytes: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1])
    const rss = kib('VmRSS')
    const peak = kib('VmHWM')
    return Number.isFinite(rss)
      ? { rssBytes: rss * 1024, peakRssBytes: (peak || rss) * 1024 }
      : undefined
  } catch {
    return undefined
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

export interface StartOptions {
  /** Write a V8 CPU profile of this service into the folder. */
  readonly cpuProfileDir?: string
  readonly startTimeoutMs?: number
}

export async function startService(
  spec: ServiceSpec,
  options: StartOptions = {},
): Promise<ServiceProcess> {
  const execArgv = ['--import', TSX]
  if (options.cpuProfileDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir)
  const child = fork(ENTRY, [], {
    execArgv,
    env: { ...process.env, BENCH_SERVICE: JSON.stringify(spec), NODE_OPTIONS: '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const timeoutMs = options.startTimeoutMs ?? 30_000
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${spec.kind} did not start within ${timeoutMs} ms`)),
        timeoutMs,
      )
      child.on('message', (message: { type?: string; message?: string }) => {
        if (message?.type === 'ready') resolve()
        if (message?.type === 'failed')
          reject(new Error(`${spec.kind} failed to start: ${message.message}`))
        clearTimeout(timer)
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`${spec.kind} exited during start (code ${code})`))
      })
    })
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  return {
    kind: spec.kind,
    url: `http://127.0.0.1:${spec.port}`,
    pid: child.pid!,
    memory: () => readMemory(child.pid!),
    async stop() {
      if (child.connected) child.send({ type: 'stop' })
      if (await waitForExit(child, 10_000)) return
      child.kill('SIGKILL')
      await waitForExit(child, 5_000)
    },
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

/** Polls `url` until it answers 200, the child exits, or the time is up. */
async function waitUntilServing(
  url: string,
  child: ChildProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`exited during start (${child.exitCode ?? child.signalCode})`)
    const ok = await fetch(url).then(
      (response) => response.status === 200,
      () => false,
    )
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`did not answer ${url} within ${timeoutMs} ms`)
}

/**
 * The V8 flags the STS is deployed with (deploy/sts/README.md "Memory", deploy/scale/compose.yml):
 * a young generation of at most 2 × 2 MB semi-spaces instead of V8's 2 × 16 MB. Under load the
 * STS allocates a little per request and keeps almost nothing, so V8 grows the young generation
 * to its ceiling; the smaller ceiling holds the resident set ≈ 45 MB lower for ≈ 4 % more CPU in
 * scavenges (docs/performance.md). V8 reads it only at start, so it is a node flag, not code.
 */
export const STS_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=2'])

/**
 * The STS alone as its users run it: compiled JavaScript (dist/, built by `npm run build`), plain
 * `node <flags> dist/cli/main.js sts --config <file>`, no tsx loader. Logs go to stdout, here /dev/null.
 * Ready when its JWKS answers; stopped with SIGTERM (so `--cpu-prof` writes its profile).
 */
export async function startCompiledSts(input: {
  readonly configFile: string
  readonly port: number
  readonly env: Record<string, string>
  /** The working directory (no stray .env is read from the checkout). */
  readonly cwd: string
  readonly cpuProfileDir?: string
  readonly startTimeoutMs?: number
  /** Node flags before the script; default `STS_NODE_FLAGS`. */
  readonly nodeFlags?: readonly string[]
}): Promise<ServiceProcess> {
  if (!existsSync(CLI)) throw new Error(`no ${CLI}: run npm run build first`)
  const execArgv = [
    ...(input.nodeFlags ?? STS_NODE_FLAGS),
    ...(input.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', input.cpuProfileDir] : []),
  ]
  const child = spawn(process.execPath, [...execArgv, CLI, 'sts', '--config', input.configFile], {
    cwd: input.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? ROOT, ...input.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const url = `http://127.0.0.1:${input.port}`
  try {
    await waitUntilServing(`${url}/jwks`, child, input.startTimeoutMs ?? 30_000)
  } catch (err) {
    child.kill('SIGKILL')
    throw new Error(`compiled STS: ${(err as Error).message}`, { cause: err })
  }
  return {
    kind: 'sts',
    url,
    pid: child.pid!,
    memory: () => readMemory(child.pid!),
    async stop() {
      child.kill('SIGTERM')
      if (await waitForExit(child, 10_000)) return
      child.kill('SIGKILL')
      await waitForExit(child, 5_000)
    },
  }
}
