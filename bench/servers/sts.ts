/**
 * The onbehalf STS (src/sts, issue 6) under load, trusting the embedded IdP the way
 * `npm start` wires it: the IdP is the one upstream, App A the one client, App B the one target.
 *
 * The STS may not exist in a checkout: `stsAvailability()` then says so and the bench reports
 * "STS not available" instead of failing. The STS modules are imported by a computed path so this
 * file type-checks either way.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Env } from '../../src/config/env.js'
import type { Logger } from '../../src/log/logger.js'

const STS_DIR = new URL('../../src/sts/', import.meta.url)

interface StsModules {
  readonly buildSts: (
    config: unknown,
    options: { logger: Logger },
  ) => Promise<{
    listen(options: { host: string; port: number }): Promise<unknown>
    close(): Promise<unknown>
  }>
  readonly parseStsConfig: (
    raw: unknown,
    vars: Record<string, string | undefined>,
    source?: string,
  ) => unknown
}

async function loadSts(): Promise<StsModules> {
  const app = (await import(new URL('app.ts', STS_DIR).href)) as Partial<StsModules>
  const config = (await import(new URL('config.ts', STS_DIR).href)) as Partial<StsModules>
  if (typeof app.buildSts !== 'function' || typeof config.parseStsConfig !== 'function') {
    throw new Error('src/sts exports no buildSts/parseStsConfig')
  }
  return { buildSts: app.buildSts, parseStsConfig: config.parseStsConfig }
}

export interface StsAvailability {
  readonly available: boolean
  readonly reason?: string
}

export async function stsAvailability(): Promise<StsAvailability> {
  if (!existsSync(new URL('app.ts', STS_DIR)))
    return { available: false, reason: 'STS not available (no src/sts)' }
  try {
    await loadSts()
    return { available: true }
  } catch (err) {
    return {
      available: false,
      reason: `STS not available (${err instanceof Error ? err.message : String(err)})`,
    }
  }
}

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
  const { buildSts, parseStsConfig } = await loadSts()
  const config = parseStsConfig(
    benchStsConfig(input.env, input.port),
    { APP_A_CLIENT_SECRET: input.env.APP_A_CLIENT_SECRET },
    'bench STS config',
  )
  const app = await buildSts(config, { logger: input.logger })
  await app.listen({ host: '127.0.0.1', port: input.port })
  return app
}
