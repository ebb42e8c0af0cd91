/**
 * onbehalf CLI.
 *
 *   onbehalf start         IdP (:9000), STS (:9100), App A (:3993), App B (:3994), App C (:3995)
 *   onbehalf idp           the embedded IdP alone
 *   onbehalf attack        the attack lab against a running stack (src/cli/attack.ts)
 *   onbehalf keys rotate [--create]   make a new IdP signing key active (old public keys stay
 *                          published; a running IdP picks it up without a restart)
 *   onbehalf sts --config <file>   the RFC 8693 security token service (deploy/sts/README.md)
 */
import { ConfigError } from '../config/env.js'

// Each command loads only what it needs (the IdP's oidc-provider is not loaded for `doctor`).

const USAGE = `usage: onbehalf <command>

commands:
  start         start the embedded IdP, the STS, App A, App B and App C (what \`npm start\` runs)
  idp           start the embedded IdP alone
  keys rotate [--create]
                make a new IdP signing key active; old public keys stay in the JWKS and the
                running IdP signs with the new key without a restart. Refuses when DATA_DIR
                holds no key store, unless --create
  doctor        check an IdP: discovery, grant types, client authentication, a test exchange
                (onbehalf doctor --help)
  setup keycloak  add the app-b audience scope and enable token exchange on app-a in a Keycloak
                realm, idempotently (onbehalf setup keycloak --help)
  sts --config <file>
                start the security token service (RFC 8693 for IdPs that lack it)
  sts rotate-keys --config <file> [--create]
                make a new STS signing key active (running instances pick it up)
  attack        play a compromised App A against the running stack: every path, every attempt,
                the comparison matrix (onbehalf attack --help; --markdown, --json)
  help          show this text`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start':
      await (await import('./start.js')).runStack()
      return 0
    case 'idp':
      await (await import('./start.js')).runIdpOnly()
      return 0
    case 'sts':
      return (await import('./sts.js')).runSts(rest)
    case 'attack':
      return (await import('./attack.js')).runAttackCommand(rest)
    case 'keys':
      if (rest[0] === 'rotate') return (await import('./keys.js')).runRotateKeys(rest.slice(1))
      break
    case 'doctor':
      return (await import('./doctor.js')).runDoctorCommand(rest)
    case 'setup':
      return (await import('./setup_keycloak.js')).runSetupCommand(rest)
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE)
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
