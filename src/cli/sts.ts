/**
 * `onbehalf sts --config <file>`: the security token service alone (deploy/sts/README.md).
 * `onbehalf sts rotate-keys --config <file>`: a new active STS signing key in the shared key
 * directory; running instances pick it up on their next request, retired keys stay published.
 *
 * `${NAME}` in the config file and `secretEnv` read the environment (and `.env`), with the
 * development defaults of the embedded stack outside production.
 */
import { configVariables, loadDotEnv, loadEnv } from '../config/env.js'
import { createLogger } from '../log/logger.js'
import { buildSts } from '../sts/app.js'
import { listenAll, stopOnSignal } from './start.js'
import { readStsConfigFile } from '../sts/config.js'
import { rotateStsKeys } from '../sts/signing_keys.js'

export const STS_USAGE = `usage: onbehalf sts --config <file>
       onbehalf sts rotate-keys --config <file>`

function parseArgs(argv: string[]): { rotate: boolean; config: string } | undefined {
  const rest = [...argv]
  const rotate = rest[0] === 'rotate-keys'
  if (rotate) rest.shift()
  if (rest.length !== 2 || rest[0] !== '--config' || !rest[1]) return undefined
  return { rotate, config: rest[1] }
}

export async function runSts(argv: string[]): Promise<number> {
  const args = parseArgs(argv)
  if (args === undefined) {
    console.error(STS_USAGE)
    return 2
  }
  loadDotEnv()
  const env = loadEnv()
  const vars = configVariables(env)
  const config = readStsConfigFile(args.config, vars)
  if (args.rotate) {
    const keys = rotateStsKeys(config.keys)
    console.log(`active STS signing key: ${keys.active.kid}`)
    console.log(`published keys: ${keys.keys.map((key) => key.kid).join(', ')}`)
    return 0
  }

  const logger = createLogger({ level: env.LOG_LEVEL, name: 'onbehalf' })
  const running = await listenAll(
    [{ name: 'sts', port: config.port, build: () => buildSts(config, { logger }) }],
    config.host,
    logger,
  )
  process.stdout.write(
    `\n  onbehalf STS: ${config.issuer} (metadata: ${config.issuer}/.well-known/oauth-authorization-server)\n` +
      `  trusting: ${config.upstreams.map((upstream) => upstream.issuer).join(', ')}\n\n`,
  )
  await stopOnSignal(running, logger)
  return 0
}
