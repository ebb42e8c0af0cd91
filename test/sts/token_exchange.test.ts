/**
 * RFC 8693 at the STS, over real HTTP: the shared conformance suite
 * (test/conformance/token_exchange_suite.ts), with the STS trusting the embedded IdP as its
 * upstream. Subject tokens come from a real login at the IdP; exchanged tokens are the STS's own.
 */
import { createLogger } from '../../src/log/logger.js'
import { buildSts } from '../../src/sts/app.js'
import { parseStsConfig } from '../../src/sts/config.js'
import { startStack } from '../helpers/stack.js'
import { bindSocket } from '../helpers/listen.js'
import {
  tokenExchangeConformance,
  type ConformanceTarget,
} from '../conformance/token_exchange_suite.js'
import { captureLogger, tempDir } from './helpers.js'

async function startStsTarget(): Promise<ConformanceTarget> {
  const stack = await startStack({ logger: createLogger({ level: 'silent' }) })
  const { logger, lines } = captureLogger()
  const keyDir = tempDir()
  const socket = await bindSocket()
  const issuer = socket.url
  const config = parseStsConfig(
    {
      issuer,
      keys: { directory: keyDir.path },
      upstreams: {
        embedded: {
          issuer: stack.idp.issuer,
          algorithms: ['ES256'],
          clients: { 'app-a': 'app-a', 'app-b': 'app-b' },
        },
      },
      targets: {
        'app-a': { resourceUris: ['${APP_A_URL}'], scopes: ['todos:read', 'todos:write'] },
        'app-b': { resourceUris: ['${APP_B_URL}'], scopes: ['todos:read', 'todos:write'] },
      },
      clients: {
        'app-a': {
          secretEnv: 'APP_A_CLIENT_SECRET',
          tokenExchange: {
            enabled: true,
            allowedAudiences: ['app-b'],
            scopeCeiling: ['todos:read'],
          },
        },
        'app-b': { secretEnv: 'APP_B_CLIENT_SECRET', tokenExchange: { enabled: false } },
      },
    },
    stack.env as unknown as Record<string, string>,
    'conformance',
  )
  const app = await buildSts(config, { logger })
  await socket.serve(app)
  return {
    stack,
    issuer,
    tokenEndpoint: `${issuer}/token`,
    jwksUri: `${issuer}/jwks`,
    discoveryUrl: `${issuer}/.well-known/oauth-authorization-server`,
    activeKid: async () => {
      const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as {
        keys: Array<{ kid: string }>
      }
      return jwks.keys[0]!.kid
    },
    logLines: lines,
    async close() {
      await socket.close()
      await app.close()
      await stack.close()
      keyDir.remove()
    },
  }
}

tokenExchangeConformance('onbehalf STS: RFC 8693 token exchange', startStsTarget)
