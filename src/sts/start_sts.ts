/**
 * `startSts`: the onbehalf STS from a configuration file or object, built and listening, for
 * services that run it in their own process (what `onbehalf sts --config <file>` does, minus the
 * signal handling). The configuration is the STS file format (deploy/sts/*.json, validated by
 * `parseStsConfig`); `${NAME}` and `secretEnv` read `variables`, by default `process.env`.
 */
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { createLogger, type Logger } from '../log/logger.js'
import { buildSts } from './app.js'
import {
  parseStsConfig,
  readStsConfigFile,
  type ConfigVariables,
  type StsConfig,
} from './config.js'

export interface StartStsOptions {
  /** Default: JSON lines on stdout at `info` (tokens and secrets are never logged). */
  readonly logger?: Logger
  /** What `${NAME}` and each client's `secretEnv` refer to. Default `process.env`. */
  readonly variables?: ConfigVariables
  /** Overrides the configuration's `host` (default 127.0.0.1). */
  readonly host?: string
  /** Overrides the configuration's `port`; 0 lets the system choose (read `url` back). */
  readonly port?: number
}

export interface RunningSts {
  /** Where it listens, e.g. `http://127.0.0.1:9100` (not necessarily its `issuer`). */
  readonly url: string
  readonly config: StsConfig
  /** The Fastify instance (routes `/token`, `/jwks`, `/.well-known/oauth-authorization-server`). */
  readonly app: FastifyInstance
  /** Stops listening and waits for requests in flight. */
  close(): Promise<void>
}

/**
 * Validates the configuration (a `ConfigError` lists every problem, each naming its field), builds
 * the STS and listens.
 *
 * @example
 * ```ts
 * import { startSts } from 'onbehalf/sts'
 *
 * const sts = await startSts('sts.json') // or an object in the same format
 * console.log(`RFC 8693 token endpoint: ${sts.config.issuer}/token`)
 * process.once('SIGTERM', () => sts.close())
 * ```
 */
export async function startSts(
  source: string | URL | Record<string, unknown>,
  options: StartStsOptions = {},
): Promise<RunningSts> {
  const variables = options.variables ?? process.env
  const config =
    typeof source === 'string' || source instanceof URL
      ? readStsConfigFile(source instanceof URL ? fileURLToPath(source) : source, variables)
      : parseStsConfig(source, variables)
  const logger = options.logger ?? createLogger({ level: 'info', name: 'onbehalf-sts' })
  const app = await buildSts(config, { logger })
  const host = options.host ?? config.host
  try {
    await app.listen({ host, port: options.port ?? config.port })
  } catch (error) {
    await app.close()
    throw error
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.port
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    config,
    app,
    close: async () => {
      await app.close()
    },
  }
}
