/**
 * `onbehalf sts --config <file>`: the security token service alone (deploy/sts/README.md).
 * `onbehalf sts rotate-keys --config <file> [--create]`: a new active STS signing key in the shared
 * key directory; running instances pick it up within a second, retired keys stay published. It
 * refuses when the directory holds no key store, unless `--create` asks for one.
 *
 * `${NAME}` in the config file and `secretEnv` read the environment (and `.env`), with the
 * development defaults of the embedded stack outside production.
 */
import { configVariables, loadDotEnv, loadEnv } from '../config/env.js'
import { createLogger } from '../log/logger.js'
import { buildStsWithSharedState } from './sts_shared_state.js'
import { listenAll, stopOnSignal } from './listen.js'
import { readStsConfigFile } from '../sts/config.js'
import { join, resolve } from 'node:path'
import { openStsKeyStore, STS_KEY_FILE } from '../sts/signing_keys.js'
import { rotateKeyStore } from './rotate_keys.js'

export const STS_USAGE = `usage: onbehalf sts --config <file>
       onbehalf sts rotate-keys --config <file> [--create]`

function parseArgs(
  argv: string[],
): { rotate: boolean; create: boolean; config: string } | undefined {
  const rest = [...argv]
  const rotate = rest[0] === 'rotate-keys'
  if (rotate) rest.shift()
  const createAt = rest.indexOf('--create')
  const create = rotate && createAt !== -1
  if (create) rest.splice(createAt, 1)
  if (rest.length !== 2 || rest[0] !== '--config' || !rest[1]) return undefined
  return { rotate, create, config: rest[1] }
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
    return rotateKeyStore({
      what: 'STS',
      file: resolve(join(config.keys.directory, STS_KEY_FILE)),
      hint: `keys.directory of ${args.config}`,
      create: args.create,
      open: (create) => openStsKeyStore({ ...config.keys, create }),
    })
  }

  const logger = createLogger({ level: env.LOG_LEVEL, name: 'onbehalf' })
  const running = await listenAll(
    [
      {
        name: 'sts',
        port: config.port,
        build: () => buildStsWithSharedState(config, { env, logger }),
      },
    ],
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
