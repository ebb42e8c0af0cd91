/**
 * `onbehalf setup keycloak`: makes a Keycloak realm ready for standard token exchange (V2, Keycloak
 * 26.2+) over the Admin REST API, idempotently: read the state, plan the missing writes (a pure
 * function, src/keycloak/setup/planner.ts, which says what and why), print them, send them.
 *
 * @example
 * onbehalf setup keycloak --url http://127.0.0.1:8080            # apply
 * onbehalf setup keycloak --url http://127.0.0.1:8080 --dry-run  # print the requests only
 */
import { parseArgs } from 'node:util'
import { connectKeycloakAdmin } from '../keycloak/admin_client.js'
import {
  DEFAULT_TARGET,
  KeycloakSetupError,
  applyKeycloakPlan,
  planKeycloakSetup,
  readKeycloakState,
  type KeycloakSetupTarget,
} from '../keycloak/setup/index.js'

// The planner's vocabulary, for callers that used to find it here (the tests).
export * from '../keycloak/setup/index.js'
export { connectKeycloakAdmin, type KeycloakAdmin } from '../keycloak/admin_client.js'

const USAGE = `usage: onbehalf setup keycloak [--url URL] [--realm onbehalf] [--admin-user NAME] [--admin-password PW] [--dry-run]

  --url             Keycloak base URL (env KEYCLOAK_URL, default http://127.0.0.1:8080, what 'onbehalf keycloak up' starts)
  --realm           realm to configure (env KEYCLOAK_REALM, default onbehalf)
  --admin-user      admin user (env KEYCLOAK_ADMIN_USER or KC_BOOTSTRAP_ADMIN_USERNAME, default admin)
  --admin-password  admin password (env KEYCLOAK_ADMIN_PASSWORD or KC_BOOTSTRAP_ADMIN_PASSWORD, default admin)
  --dry-run         print the requests it would send, send none`

export interface CommandIo {
  out: (line: string) => void
  err: (line: string) => void
  env?: NodeJS.ProcessEnv
  fetch?: typeof fetch
}

const defaultIo: CommandIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
}

/** `onbehalf setup <what> …`; returns the exit code. */
export async function runSetupCommand(argv: string[], io: CommandIo = defaultIo): Promise<number> {
  const [what, ...rest] = argv
  if (what !== 'keycloak') {
    io.err(USAGE)
    return 2
  }
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: rest,
      options: {
        url: { type: 'string' },
        realm: { type: 'string' },
        'admin-user': { type: 'string' },
        'admin-password': { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`)
    return 2
  }
  if (values.help) {
    io.out(USAGE)
    return 0
  }
  const env = io.env ?? process.env
  const baseUrl = String(values.url ?? env.KEYCLOAK_URL ?? 'http://127.0.0.1:8080')
  const target: KeycloakSetupTarget = {
    ...DEFAULT_TARGET,
    realm: String(values.realm ?? env.KEYCLOAK_REALM ?? 'onbehalf'),
  }
  try {
    const admin = await connectKeycloakAdmin({
      baseUrl,
      username: String(
        values['admin-user'] ??
          env.KEYCLOAK_ADMIN_USER ??
          env.KC_BOOTSTRAP_ADMIN_USERNAME ??
          'admin',
      ),
      password: String(
        values['admin-password'] ??
          env.KEYCLOAK_ADMIN_PASSWORD ??
          env.KC_BOOTSTRAP_ADMIN_PASSWORD ??
          'admin',
      ),
      fetch: io.fetch,
    })
    const plan = planKeycloakSetup(await readKeycloakState(admin, target), target)
    if (plan.length === 0) {
      io.out(
        `✔ realm ${target.realm} at ${baseUrl} is already set up for token exchange; nothing to change`,
      )
      return 0
    }
    for (const step of plan)
      io.out(`${values['dry-run'] ? '·' : '→'} ${step.method} ${step.path}  (${step.reason})`)
    if (values['dry-run']) return 0
    await applyKeycloakPlan(admin, plan)
    io.out(
      `✔ realm ${target.realm} set up: ${plan.length} change(s); check with \`onbehalf doctor --idp keycloak\``,
    )
    return 0
  } catch (error) {
    if (error instanceof KeycloakSetupError) {
      io.err(`✘ ${error.message}`)
      return 1
    }
    if (error instanceof TypeError) {
      io.err(
        `✘ cannot reach Keycloak at ${baseUrl} (${(error as Error & { cause?: Error }).cause?.message ?? error.message}): is it running (onbehalf keycloak up)? With the compose file, is "127.0.0.1 keycloak" in /etc/hosts?`,
      )
      return 1
    }
    throw error
  }
}
