/**
 * onbehalf CLI.
 *
 *   onbehalf start         IdP (:9000), App A (:3993) and App B (:3994) on the embedded defaults
 *   onbehalf idp           the embedded IdP alone
 *   onbehalf keys rotate   make a new IdP signing key active (old public keys stay published)
 */
import { ConfigError } from '../config/env.js'
import { runIdpOnly, runStack } from './start.js'
import { runRotateKeys } from './keys.js'

const USAGE = `usage: onbehalf <command>

commands:
  start         start the embedded IdP, App A and App B (what \`npm start\` runs)
  idp           start the embedded IdP alone
  keys rotate   make a new IdP signing key active; old public keys stay in the JWKS
  help          show this text`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start':
      await runStack()
      return 0
    case 'idp':
      await runIdpOnly()
      return 0
    case 'keys':
      if (rest[0] === 'rotate') return runRotateKeys()
      break
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
