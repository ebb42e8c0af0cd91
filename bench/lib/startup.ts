/**
 * `npm start`'s time to ready on a warm machine (issue 18: ≤ 1.5 s): the real command
 * (`npm start` = `node scripts/build.js && node dist/cli/main.js start`) spawned in the checkout
 * with its ports moved to free ones and a temporary data folder; ready when it has printed
 * "onbehalf is running" AND every service has answered 200 on its readiness route (/readyz of the
 * IdP, the STS, App B and App C; App A, which keeps no state of its own, has /healthz only). One untimed start first creates the data folder's keys and databases (a user's first
 * start); the timed starts reuse it, as every later `npm start` does. Beside it, the parts: the
 * build step alone (`node scripts/build.js`, a no-op when dist/ is current) and the same stack
 * started without npm (`node dist/cli/main.js start`), so npm's own share shows.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './processes.js'
import { round } from './wrk.js'

interface StartupSample {
  /** From spawn to the "onbehalf is running" line. */
  readonly lineMs: number
  /** From spawn to every service's readiness route answering 200 (and the line printed). */
  readonly readyMs: number
}

export interface StartupResult {
  readonly command: string
  readonly runs: readonly StartupSample[]
  /** Median readyMs of the runs. */
  readonly medianReadyMs: number
  /** The first start, which also creates keys and databases (not counted in the median). */
  readonly firstStartMs: number
  /** Median of `node scripts/build.js` alone, dist/ current. */
  readonly buildStepMs: number
  /** Median readyMs of `node dist/cli/main.js start` (no npm, no build step). */
  readonly withoutNpmMs: number
}

/** Each service's variable prefix and its readiness route. */
const SERVICES = [
  ['IDP', '/readyz'],
  ['STS', '/readyz'],
  ['APP_A', '/healthz'],
  ['APP_B', '/readyz'],
  ['APP_C', '/readyz'],
] as const

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

async function startOnce(
  root: string,
  command: readonly string[],
  env: Record<string, string>,
  urls: readonly string[],
  timeoutMs: number,
): Promise<StartupSample> {
  const started = performance.now()
  const child = spawn(command[0]!, command.slice(1), {
    cwd: root,
    env,
    // Its own process group: npm → sh → node, all stopped together.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  let lineAt: number | undefined
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8')
    if (lineAt === undefined && output.includes('onbehalf is running')) lineAt = performance.now()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8')
  })
  const readyAt = new Map<string, number>()
  try {
    while (lineAt === undefined || readyAt.size < urls.length) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${command.join(' ')} exited during start:\n${output.slice(-2000)}`)
      if (performance.now() - started > timeoutMs)
        throw new Error(`${command.join(' ')}: not ready within ${timeoutMs} ms`)
      await Promise.all(
        urls
          .filter((url) => !readyAt.has(url))
          .map(async (url) => {
            const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
              (response) => response.status === 200,
              () => false,
            )
            if (ok) readyAt.set(url, performance.now())
          }),
      )
      if (lineAt === undefined || readyAt.size < urls.length)
        await new Promise((resolve) => setTimeout(resolve, 10))
    }
  } finally {
    try {
      process.kill(-child.pid!, 'SIGTERM')
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // gone
      }
    }, 10_000)
    await exited
    clearTimeout(timer)
  }
  return {
    lineMs: Math.round(lineAt - started),
    readyMs: Math.round(Math.max(lineAt, ...readyAt.values()) - started),
  }
}

async function timeCommand(root: string, command: readonly string[], env: Record<string, string>) {
  const started = performance.now()
  await new Promise<void>((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd: root, env, stdio: 'ignore' })
    child.once('error', reject)
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command.join(' ')} exited ${code}`)),
    )
  })
  return performance.now() - started
}

export async function measureStartup(input: {
  /** The checkout (package.json with the start script, dist/ built). */
  readonly root: string
  readonly runs: number
  readonly logLevel: string
  readonly timeoutMs?: number
}): Promise<StartupResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'onbehalf-bench-start-'))
  try {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? input.root,
      NODE_ENV: 'development',
      LOG_LEVEL: input.logLevel,
      DATA_DIR: dataDir,
    }
    const urls: string[] = []
    for (const [name, route] of SERVICES) {
      const port = await freePort()
      const url = `http://127.0.0.1:${port}`
      env[`${name}_PORT`] = String(port)
      env[name === 'IDP' || name === 'STS' ? `${name}_ISSUER` : `${name}_URL`] = url
      urls.push(`${url}${route}`)
    }
    const timeoutMs = input.timeoutMs ?? 60_000
    const npmStart = ['npm', 'start', '--silent']
    const first = await startOnce(input.root, npmStart, env, urls, timeoutMs)
    const runs: StartupSample[] = []
    for (let i = 0; i < input.runs; i++)
      runs.push(await startOnce(input.root, npmStart, env, urls, timeoutMs))
    const build: number[] = []
    const direct: number[] = []
    for (let i = 0; i < input.runs; i++) {
      build.push(await timeCommand(input.root, [process.execPath, 'scripts/build.js'], env))
      direct.push(
        (
          await startOnce(
            input.root,
            [process.execPath, 'dist/cli/main.js', 'start'],
            env,
            urls,
            timeoutMs,
          )
        ).readyMs,
      )
    }
    return {
      command: 'npm start (node scripts/build.js && node dist/cli/main.js start)',
      runs,
      medianReadyMs: round(median(runs.map((run) => run.readyMs)), 0),
      firstStartMs: first.readyMs,
      buildStepMs: round(median(build), 0),
      withoutNpmMs: round(median(direct), 0),
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}
