/**
 * `onbehalf keycloak up|down|status`: a real Keycloak on this machine without Docker, for the
 * Keycloak path of the demo, `setup keycloak`, `doctor --idp keycloak` and the live tests.
 *
 *   up [--detach]   fetch the pinned distribution through Maven (first time), import the realm,
 *                   start on 127.0.0.1:KEYCLOAK_PORT, wait for the realm's discovery, print the URL
 *                   and the admin login; Ctrl-C stops it. --detach leaves it running (CI).
 *   down            stop the Keycloak `up` started
 *   status          running? realm ready? (exit 0 only when ready)
 */
import { ConfigError } from '../config/config_error.js'
import {
  KeycloakLauncherError,
  keycloakStatus,
  loadLauncherSettings,
  startKeycloak,
  stopKeycloak,
  type LauncherSettings,
} from '../keycloak/launcher/index.js'

const USAGE = `usage: onbehalf keycloak up [--detach] | down | status

  up        fetch Keycloak (pinned in deploy/keycloak/VERSION) through Maven into KEYCLOAK_HOME
            (default ./.keycloak), import deploy/keycloak/realm-onbehalf.json, start it on
            127.0.0.1:KEYCLOAK_PORT (default 8080), wait until the realm answers; Ctrl-C stops it
  --detach  return once it is ready and leave it running (stop it with: onbehalf keycloak down)
  down      stop it
  status    is it running and is the realm ready (exit 0 when ready, 1 otherwise)

variables: KEYCLOAK_HOME, KEYCLOAK_PORT, KEYCLOAK_MANAGEMENT_PORT (default 9080),
           KEYCLOAK_READY_TIMEOUT (seconds, default 300), KC_BOOTSTRAP_ADMIN_USERNAME/PASSWORD
needs:     Java 17+ and Maven (or use Docker: deploy/keycloak/README.md)`

export interface KeycloakIo {
  out: (line: string) => void
  err: (line: string) => void
  env?: NodeJS.ProcessEnv
}

const defaultIo: KeycloakIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
}

function readyLines(settings: LauncherSettings, url: string, issuer: string): string[] {
  return [
    `✔ Keycloak ${settings.version} is ready at ${url}`,
    `  realm issuer:   ${issuer}`,
    `  admin console:  ${url}/admin  (${settings.adminUser} / ${settings.adminPassword})`,
    `  next:           onbehalf setup keycloak --url ${url}`,
    `                  IDP=keycloak KEYCLOAK_URL=${url} npm start`,
  ]
}

async function up(settings: LauncherSettings, detach: boolean, io: KeycloakIo): Promise<number> {
  const running = await startKeycloak(settings, {
    detach,
    progress: (line) => io.out(`· ${line}`),
  })
  io.out(`· ready after ${(running.startupMs / 1000).toFixed(1)} s`)
  for (const line of readyLines(settings, running.url, running.issuer)) io.out(line)
  if (detach) {
    io.out(`  stop it with:   onbehalf keycloak down  (pid ${running.pid})`)
    return 0
  }
  io.out('  Ctrl-C stops it')
  const signalled = await new Promise<NodeJS.Signals | undefined>((resolvePromise) => {
    const onSignal = (signal: NodeJS.Signals) => resolvePromise(signal)
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    void running.exited.then(() => resolvePromise(undefined))
  })
  if (!signalled) {
    io.err(`✘ Keycloak stopped by itself; see ${running.log}`)
    return 1
  }
  io.out('· stopping Keycloak')
  await running.stop()
  io.out('✔ stopped')
  return 0
}

/** `onbehalf keycloak …`; returns the exit code. */
export async function runKeycloakCommand(
  argv: readonly string[],
  io: KeycloakIo = defaultIo,
): Promise<number> {
  const [action, ...rest] = argv
  const detach = rest.includes('--detach')
  const unknown = rest.filter((arg) => !(action === 'up' && arg === '--detach'))
  if (!action || ['help', '--help', '-h'].includes(action)) {
    io.out(USAGE)
    return action ? 0 : 2
  }
  if (!['up', 'down', 'status'].includes(action) || unknown.length > 0) {
    io.err(`onbehalf keycloak: unexpected ${unknown[0] ?? action}\n\n${USAGE}`)
    return 2
  }
  try {
    const settings = loadLauncherSettings(io.env ?? process.env)
    if (action === 'up') return await up(settings, detach, io)
    if (action === 'down') {
      io.out((await stopKeycloak(settings)) ? '✔ Keycloak stopped' : '○ Keycloak was not running')
      return 0
    }
    const status = await keycloakStatus(settings)
    if (!status.running) {
      io.out(`○ Keycloak is not running (onbehalf keycloak up starts it)`)
      return 1
    }
    io.out(
      `${status.ready ? '✔' : '!'} Keycloak ${status.version} running at ${status.url} (pid ${status.pid}); realm ${status.ready ? 'ready' : 'not ready yet'}: ${status.issuer}`,
    )
    return status.ready ? 0 : 1
  } catch (error) {
    if (error instanceof KeycloakLauncherError || error instanceof ConfigError) {
      io.err(`✘ ${error.message}`)
      return 1
    }
    throw error
  }
}
