#!/usr/bin/env node
/**
 * onbehalf CLI. Runs from any folder: the default config comes from the package
 * (src/config/package_files.ts), data goes to ./data of the working directory (DATA_DIR).
 *
 *   onbehalf start         IdP (:9000), STS (:9100), App A (:3993), App B (:3994), App C (:3995)
 *   onbehalf idp           the embedded IdP alone
 *   onbehalf app-b         App B alone (one of several instances on DATABASE_URL)
 *   onbehalf agent …       App D, the Assistant agent acting for a user (src/cli/agent.ts)
 *   onbehalf attack        the attack lab against a running stack (src/cli/attack.ts)
 *   onbehalf keys rotate [--create]   make a new IdP signing key active (old public keys stay
 *                          published; a running IdP picks it up without a restart)
 *   onbehalf keycloak up|down|status   a local Keycloak without Docker (src/cli/keycloak.ts)
 *   onbehalf sts --config <file>   the RFC 8693 security token service (deploy/sts/README.md)
 *   onbehalf users hash-password   a USERS_FILE passwordHash, the password read from stdin
 *   onbehalf migrate       apply every component's PostgreSQL migrations (DATABASE_URL) and exit
 */
import './compile_cache.js'
import { ConfigError } from '../config/env.js'
import { packageVersion } from '../config/package_files.js'

// Each command loads only what it needs (the IdP's oidc-provider is not loaded for `doctor`).

const USAGE = `usage: onbehalf <command>

commands:
  start         start the embedded IdP, the STS, App A, App B and App C (what \`npm start\` runs;
                onbehalf start --help lists the ports, files and variables)
  idp           start the embedded IdP alone (onbehalf idp --help)
  app-b         start App B alone, e.g. one of several instances on DATABASE_URL
                (onbehalf app-b --help)
  keys rotate [--create]
                make a new IdP signing key active; old public keys stay in the JWKS and the
                running IdP signs with the new key without a restart. Refuses when DATA_DIR
                holds no key store, unless --create
  doctor        check an IdP: discovery, grant types, client authentication, a test exchange
                (onbehalf doctor --help)
  keycloak up|down|status
                a real Keycloak on 127.0.0.1 without Docker: fetched through Maven, the
                onbehalf realm imported (onbehalf keycloak --help)
  setup keycloak  add the app-b audience scope and enable token exchange on app-a in a Keycloak
                realm, idempotently (onbehalf setup keycloak --help)
  sts --config <file>
                start the security token service (RFC 8693 for IdPs that lack it)
  sts rotate-keys --config <file> [--create]
                make a new STS signing key active (running instances pick it up)
  migrate       apply the PostgreSQL migrations of every component to DATABASE_URL and exit,
                starting no server (services also migrate at start)
  users hash-password
                print a USERS_FILE passwordHash for the password read from standard input
  attack        play a compromised App A against the running stack: every path, every attempt,
                the comparison matrix (onbehalf attack --help; --markdown, --json)
  agent login|add|complete|list|run|status|logout
                App D, the Assistant: acts for you in App B once you delegated to it at the
                IdP (onbehalf agent --help)
  help          show this text
  --version     print the version`

const isHelp = (args: readonly string[]) => args.length === 1 && ['--help', '-h'].includes(args[0]!)

/** `start`, `idp` and `app-b` take no arguments but --help; anything else is a mistake. */
async function runServer(
  command: 'start' | 'idp' | 'app-b',
  args: readonly string[],
): Promise<number> {
  const help = await import('./start_help.js')
  const usage =
    command === 'start' ? help.startUsage : command === 'idp' ? help.idpUsage : help.appBUsage
  if (isHelp(args)) {
    console.log(usage())
    return 0
  }
  if (args.length > 0) {
    console.error(`onbehalf ${command}: unexpected argument ${args[0]}\n\n${usage()}`)
    return 2
  }
  const start = await import('./start.js')
  await (command === 'start'
    ? start.runStack()
    : command === 'idp'
      ? start.runIdpOnly()
      : start.runAppBOnly())
  return 0
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start':
    case 'idp':
    case 'app-b':
      return runServer(command, rest)
    case 'sts':
      return (await import('./sts.js')).runSts(rest)
    case 'attack':
      return (await import('./attack.js')).runAttackCommand(rest)
    case 'agent':
      return (await import('./agent.js')).runAgentCommand(rest)
    case 'keys':
      if (rest[0] === 'rotate') return (await import('./keys.js')).runRotateKeys(rest.slice(1))
      break
    case 'users':
      return (await import('./users.js')).runUsersCommand(rest)
    case 'migrate':
      return (await import('./migrate.js')).runMigrate(rest)
    case 'doctor':
      return (await import('./doctor/index.js')).runDoctorCommand(rest)
    case 'keycloak':
      return (await import('./keycloak.js')).runKeycloakCommand(rest)
    case 'setup':
      return (await import('./setup_keycloak.js')).runSetupCommand(rest)
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE)
      return 0
    case '--version':
    case '-v':
    case 'version':
      console.log(packageVersion())
      return 0
  }
  console.error(USAGE)
  return 2
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code)
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      console.error(error.message)
      process.exit(78) // EX_CONFIG
    }
    console.error(error)
    process.exit(1)
  },
)
