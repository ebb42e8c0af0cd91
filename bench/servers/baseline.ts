/**
 * The baseline: what a Node user would build without onbehalf — oidc-provider's
 * client_credentials grant issuing RFC 9068 JWT access tokens signed with ES256 (the same
 * algorithm the exchange signs with), a client authenticating with client_secret_basic, and
 * oidc-provider's default in-memory adapter. Served with plain node:http, no framework on top.
 */
import { generateKeyPairSync } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import Provider, { type Configuration } from 'oidc-provider'

export const BASELINE_CLIENT_ID = 'bench-client'
export const BASELINE_CLIENT_SECRET = 'bench-client-secret-0123456789abcdef'
export const BASELINE_RESOURCE = 'https://api.bench.test'
export const BASELINE_SCOPE = 'read'

export function createBaselineProvider(issuer: string): Provider {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const signingKey = {
    ...privateKey.export({ format: 'jwk' }),
    kid: 'bench-es256',
    alg: 'ES256',
    use: 'sig',
  }
  const configuration: Configuration = {
    clients: [
      {
        client_id: BASELINE_CLIENT_ID,
        client_secret: BASELINE_CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        // Only an ES256 key is configured; the default (RS256) would make the client invalid.
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingKey] } as Configuration['jwks'],
    scopes: [BASELINE_SCOPE],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => BASELINE_RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          audience: 'api',
          scope: BASELINE_SCOPE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  }
  return new Provider(issuer, configuration)
}

/** Starts the baseline on 127.0.0.1:`port`. */
export async function startBaseline(port: number): Promise<Server> {
  const provider = createBaselineProvider(`http://127.0.0.1:${port}`)
  const server = createServer(provider.callback())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return server
}
