/**
 * The onbehalf STS (src/sts) for the bench, trusting the embedded IdP the way `npm start` wires
 * it: the IdP is the one upstream, App A the one client, App B the one target. The single-process
 * run uses this configuration with the compiled CLI (`onbehalf sts --config`); the node:cluster
 * run starts it here, through tsx.
 */
import { join } from 'node:path'
import type { Env } from '../../src/config/env.js'
import type { Logger } from '../../src/log/logger.js'
import { buildSts } from '../../src/sts/app.js'
import { parseStsConfig } from '../../src/sts/config.js'

/** The STS's configuration for the bench: same policy for App A → App B as the embedded IdP's. */
export function benchStsConfig(env: Env, port: number): Record<string, unknown> {
  return {
    issuer: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    // Every request comes from one address: the abuse limit is off for load tests.
    tokenRequestsPerMinutePerIp: 0,
    keys: { directory: join(env.DATA_DIR, 'sts-keys') },
    upstreams: { idp: { issuer: env.IDP_ISSUER, algorithms: ['ES256'] } },
    targets: { 'app-b': { resourceUris: [env.APP_B_URL], scopes: ['todos:read', 'todos:write'] } },
    clients: {
      'app-a': {
        secretEnv: 'APP_A_CLIENT_SECRET',
        tokenExchange: {
          enabled: true,
          allowedAudiences: ['app-b'],
          scopeCeiling: ['todos:read'],
          mode: 'delegation',
          maxLifetimeSeconds: 300,
        },
      },
    },
  }
}

export async function startSts(input: {
  env: Env
  logger: Logger
  port: number
}): Promise<{ close(): Promise<unknown> }> {
  const config = parseStsConfig(
    benchStsConfig(input.env, input.port),
    { APP_A_CLIENT_SECRET: input.env.APP_A_CLIENT_SECRET },
    'bench STS config',
  )
  const app = await buildSts(config, { logger: input.logger })
  await app.listen({ host: '127.0.0.1', port: input.port })
  return app
}
