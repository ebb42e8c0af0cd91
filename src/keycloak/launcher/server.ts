/**
 * Starts and stops a local Keycloak (`kc.sh start-dev`: H2 file database in KEYCLOAK_HOME, the
 * project's realm imported with `--import-realm`, bound to 127.0.0.1, management interface off the
 * embedded IdP's port 9000) and waits until the realm's discovery document answers: that, not the
 * log line, is what the apps need.
 *
 * @example
 * const running = await startKeycloak(loadLauncherSettings(), { progress: console.log })
 * running.issuer // http://127.0.0.1:8080/realms/onbehalf
 * await running.stop()
 */
import { spawn } from 'node:child_process'
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { discoveryUrlOf } from '../../idp_profiles/index.js'
import { checkPrerequisites, ensureDistribution, kcScript } from './distribution.js'
import { KeycloakLauncherError } from './errors.js'
import { baseUrlOf, issuerOf, type LauncherSettings } from './settings.js'
import { clearState, isAlive, readState, writeState } from './state_file.js'

export interface RunningKeycloak {
  readonly pid: number
  readonly url: string
  readonly issuer: string
  /** From spawn to the realm's discovery answering. */
  readonly startupMs: number
  readonly log: string
  /** Resolves with the exit code when the process ends (by itself or by stop()). */
  readonly exited: Promise<number | null>
  stop(): Promise<void>
}

export interface StartOptions {
  progress?: (line: string) => void
  /** Leave it running after this process exits (`keycloak up --detach`, CI). */
  detach?: boolean
}

/** Resolves when 127.0.0.1:port can be bound, i.e. nothing listens there. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer()
    server.once('error', () => resolvePromise(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePromise(true)))
  })
}

/** Does the realm's discovery document answer with the expected issuer? */
export async function realmIsReady(issuer: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const response = await fetch(discoveryUrlOf(issuer), { signal: AbortSignal.timeout(timeoutMs) })
    if (!response.ok) return false
    return ((await response.json()) as { issuer?: unknown }).issuer === issuer
  } catch {
    return false
  }
}

const logTail = (log: string, lines = 20) => {
  try {
    return readFileSync(log, 'utf8').trim().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** SIGTERM to the process group (kc.sh forwards it to java), SIGKILL after `graceMs`. */
export async function stopProcessGroup(pid: number, graceMs = 30_000): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name)
    } catch {
      // already gone
    }
  }
  signal('SIGTERM')
  const deadline = Date.now() + graceMs
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
  if (isAlive(pid)) signal('SIGKILL')
}

export async function startKeycloak(
  settings: LauncherSettings,
  options: StartOptions = {},
): Promise<RunningKeycloak> {
  const progress = options.progress ?? (() => {})
  const url = baseUrlOf(settings)
  const issuer = issuerOf(settings)
  const recorded = readState(settings.home)
  if (recorded && isAlive(recorded.pid)) {
    throw new KeycloakLauncherError(
      'already_running',
      `Keycloak is already running at ${recorded.url} (pid ${recorded.pid}): onbehalf keycloak down stops it`,
    )
  }
  for (const [name, port] of [
    ['KEYCLOAK_PORT', settings.port],
    ['KEYCLOAK_MANAGEMENT_PORT', settings.managementPort],
  ] as const) {
    if (!(await portIsFree(port))) {
      throw new KeycloakLauncherError(
        'port_in_use',
        `port ${port} on 127.0.0.1 is in use: stop what listens there, or set ${name} to a free port`,
      )
    }
  }
  await checkPrerequisites()
  const dir = await ensureDistribution(settings, progress)
  // --import-realm reads data/import and skips a realm that already exists (the H2 file keeps it).
  const importDir = join(dir, 'data', 'import')
  mkdirSync(importDir, { recursive: true })
  copyFileSync(settings.realmFile, join(importDir, 'realm-onbehalf.json'))

  const log = join(settings.home, 'keycloak.log')
  const logFd = openSync(log, 'w')
  const started = performance.now()
  progress(`starting Keycloak ${settings.version} on ${url} (log: ${log})`)
  const child = spawn(
    'bash',
    [
      kcScript(settings),
      'start-dev',
      '--import-realm',
      `--http-host=${settings.host}`,
      `--http-port=${settings.port}`,
      `--http-management-port=${settings.managementPort}`,
      '--health-enabled=true',
    ],
    {
      cwd: dir,
      // Its own process group: Ctrl-C in this terminal reaches us, and we stop it in order.
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: {
        ...process.env,
        KC_BOOTSTRAP_ADMIN_USERNAME: settings.adminUser,
        KC_BOOTSTRAP_ADMIN_PASSWORD: settings.adminPassword,
      },
    },
  )
  closeSync(logFd)
  const pid = child.pid
  if (pid === undefined) throw new KeycloakLauncherError('exited', 'could not start bash kc.sh')
  let exitCode: number | null | undefined
  const exited = new Promise<number | null>((resolvePromise) =>
    child.once('exit', (code) => {
      exitCode = code
      resolvePromise(code)
    }),
  )
  writeState(settings.home, {
    pid,
    version: settings.version,
    url,
    issuer,
    managementPort: settings.managementPort,
    log,
    startedAt: new Date().toISOString(),
  })
  const stop = async () => {
    await stopProcessGroup(pid)
    clearState(settings.home)
  }

  const deadline = Date.now() + settings.readyTimeoutMs
  while (!(await realmIsReady(issuer))) {
    if (exitCode !== undefined) {
      clearState(settings.home)
      throw new KeycloakLauncherError(
        'exited',
        `Keycloak exited (code ${exitCode}) before the realm was ready; the end of ${log}:\n${logTail(log)}`,
      )
    }
    if (Date.now() > deadline) {
      await stop()
      throw new KeycloakLauncherError(
        'not_ready',
        `${discoveryUrlOf(issuer)} did not answer within ${settings.readyTimeoutMs / 1000} s (KEYCLOAK_READY_TIMEOUT); the end of ${log}:\n${logTail(log)}`,
      )
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
  if (options.detach) child.unref()
  return {
    pid,
    url,
    issuer,
    startupMs: Math.round(performance.now() - started),
    log,
    exited,
    stop,
  }
}

export interface KeycloakStatus {
  readonly running: boolean
  readonly ready: boolean
  readonly pid?: number
  readonly url?: string
  readonly issuer?: string
  readonly version?: string
}

export async function keycloakStatus(settings: LauncherSettings): Promise<KeycloakStatus> {
  const state = readState(settings.home)
  if (!state || !isAlive(state.pid)) return { running: false, ready: false }
  return {
    running: true,
    ready: await realmIsReady(state.issuer),
    pid: state.pid,
    url: state.url,
    issuer: state.issuer,
    version: state.version,
  }
}

/** Stops what `up` recorded; false when nothing was running. */
export async function stopKeycloak(settings: LauncherSettings): Promise<boolean> {
  const state = readState(settings.home)
  if (!state) return false
  const alive = isAlive(state.pid)
  if (alive) await stopProcessGroup(state.pid)
  clearState(settings.home)
  return alive
}
