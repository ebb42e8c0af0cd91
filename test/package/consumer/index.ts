/**
 * A consumer of the installed package, type-checked by test/package/pack_install.test.ts against
 * the shipped declarations only (copied into an empty project beside node_modules/onbehalf; not
 * part of the repository's own type check). Each `@ts-expect-error` proves a type is real: were a
 * declaration missing and the name `any`, the directive would be unused and tsc would fail.
 */
import { createServer } from 'node:http'
import Fastify from 'fastify'
import {
  type AccessTokenVerifier,
  bearerErrorResponse,
  createAccessTokenVerifier,
  createBearerAuthenticator,
  createIdentityPolicy,
  createTrustedIssuersVerifier,
  ResourceAuthError,
  type VerifiedAccessToken,
} from 'onbehalf/resource'
import { bearerAuth, requireBearer } from 'onbehalf/resource/fastify'
import {
  createTokenExchangeClient,
  ExchangedTokenCache,
  type ExchangeResult,
  TokenExchangeError,
} from 'onbehalf/client'
import {
  createClientAuthenticator,
  createExchangePolicy,
  createJwsMinter,
  createJwsSigner,
  createJwsVerifier,
  createTokenExchange,
  type ExchangeResponse,
  InvalidTarget,
  NO_STORE_HEADERS,
  OAuthError,
  toErrorResponse,
} from 'onbehalf/exchange'
import { ConfigError, type RunningSts, startSts, type StsConfig } from 'onbehalf/sts'
import { generateKeyPairSync } from 'node:crypto'

// onbehalf/resource on node:http
const verifier: AccessTokenVerifier = createAccessTokenVerifier({
  issuer: 'https://idp.example',
  audience: 'orders',
  jwksUri: new URL('https://idp.example/jwks'),
  allowedCallers: ['shop'],
  requireActor: true,
  jwksOptions: { cooldownDuration: 30_000 },
})
// @ts-expect-error audience is required
createAccessTokenVerifier({ issuer: 'https://idp.example', jwksUri: 'https://idp.example/jwks' })

const both = createTrustedIssuersVerifier([verifier])
const authenticate = createBearerAuthenticator({ verifier: both, scopes: ['orders:read'] })
const decideUser = createIdentityPolicy({ trustedHeaderCallers: [] })
createServer(async (request, response) => {
  try {
    const token: VerifiedAccessToken = await authenticate(request)
    const actors: readonly string[] = token.actorChain
    const { user, decidedBy } = decideUser(token, request.headers['x-user-sub'])
    response.end(JSON.stringify({ user, decidedBy, actors }))
  } catch (error) {
    const answer = bearerErrorResponse(error, 'orders')
    const status: number = answer.statusCode
    response.writeHead(status, answer.headers).end(JSON.stringify(answer.body))
    if (error instanceof ResourceAuthError) console.log(error.error, error.detail)
  }
})

// onbehalf/resource/fastify: the plugin's decorations are typed through module augmentation
const app = Fastify()
await app.register(bearerAuth, { realm: 'orders' })
app.get('/orders', { preHandler: app.requireBearer({ verifier }) }, async (request) => ({
  user: request.accessToken?.sub,
}))
app.get('/admin', { preHandler: requireBearer({ verifier, realm: 'orders' }) }, async () => 'ok')
// @ts-expect-error realm is required
requireBearer({ verifier })

// onbehalf/client
const client = createTokenExchangeClient({
  tokenEndpoint: async () => 'https://idp.example/token',
  clientId: 'shop',
  clientSecret: 'a-secret-of-at-least-thirty-two-characters',
  cache: new ExchangedTokenCache({ maxEntries: 100 }),
})
try {
  const result: ExchangeResult = await client.exchange({ subjectToken: 'x', audience: 'orders' })
  const fromCache: boolean = result.fromCache
  console.log(result.accessToken, fromCache)
} catch (error) {
  if (error instanceof TokenExchangeError) console.log(error.error, error.statusCode)
}
// @ts-expect-error audience is required
await client.exchange({ subjectToken: 'x' })

// onbehalf/exchange
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const engine = createTokenExchange({
  policy: createExchangePolicy({
    issuer: 'https://sts.example',
    trustedIssuers: ['https://idp.example'],
    targets: { orders: { resourceUris: ['https://orders.example'], scopes: ['orders:read'] } },
    clients: {
      shop: { enabled: true, allowedAudiences: ['orders'], scopeCeiling: ['orders:read'] },
    },
  }),
  verifier: createJwsVerifier({ algorithms: ['ES256'], resolveKey: () => undefined }),
  subjectStatus: { isActive: async () => true },
  minter: createJwsMinter({
    currentSigner: () => createJwsSigner({ kid: 'k1', alg: 'ES256', privateKey }),
  }),
  audit: (event) => console.log(event.outcome),
})
const clients = createClientAuthenticator(
  new Map([['shop', { clientId: 'shop', secret: 'a-secret-of-at-least-thirty-two-characters' }]]),
)
try {
  const client = clients.authenticate({ authorizationHeader: undefined, body: {} })
  const body: ExchangeResponse = await engine.exchange({ params: {}, client })
  console.log(body.access_token, NO_STORE_HEADERS)
} catch (error) {
  const { statusCode, body } = toErrorResponse(error)
  console.log(
    statusCode,
    body.error,
    error instanceof OAuthError,
    new InvalidTarget({ detail: 'x' }),
  )
}

// onbehalf/sts
try {
  const sts: RunningSts = await startSts('sts.json', { port: 0 })
  const config: StsConfig = sts.config
  console.log(sts.url, config.issuer)
  await sts.close()
} catch (error) {
  if (error instanceof ConfigError) console.log(error.problems.join('\n'))
}
// @ts-expect-error port is a number
await startSts('sts.json', { port: '9100' })
