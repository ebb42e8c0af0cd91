/**
 * RFC 9728 over real HTTP: App B and App C publish protected resource metadata through the
 * resource kit and name it in their challenges (`resource_metadata`); the client kit goes from App
 * B's URL to the IdP's token endpoint and exchanges with RFC 8707 `resource` instead of
 * `audience`. A resource that serves another resource's document, or names an authorization
 * server whose metadata names another issuer, is refused before any token is asked for.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { buildAppB } from '../../src/apps/app-b/app.js'
import { buildAppC } from '../../src/apps/app-c/app.js'
import {
  createTokenExchangeClient,
  discoverProtectedResource,
  ResourceDiscoveryError,
} from '../../src/client/index.js'
import { createLogger } from '../../src/log/logger.js'
import { decodeJwt, loginForTokens, startStack, type Stack } from '../helpers/stack.js'

const WELL_KNOWN = '/.well-known/oauth-protected-resource'

describe('RFC 9728 protected resource metadata', () => {
  let stack: Stack
  let appB: FastifyInstance
  let appC: FastifyInstance
  const impostors: FastifyInstance[] = []

  before(async () => {
    stack = await startStack()
    const logger = createLogger({ level: 'silent' })
    appB = await buildAppB({ env: stack.env, logger })
    appC = await buildAppC({ env: stack.env, logger })
    await stack.serve('appB', appB)
    await stack.serve('appC', appC)
  })
  after(async () => {
    for (const impostor of impostors) await impostor.close()
    await appB.close()
    await appC.close()
    await stack.close()
  })

  /** A server of the test's own making, posing as a resource (handlers run after it listens). */
  async function impostor(routes: (app: FastifyInstance) => void): Promise<string> {
    const app = Fastify()
    impostors.push(app)
    routes(app)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    if (!address || typeof address === 'string') throw new Error('no address')
    return `http://127.0.0.1:${address.port}`
  }

  it('metadataWhenAppBIsAskedThenItNamesItselfTheIdpAndHowToPresentTokens', async () => {
    const response = await fetch(`${stack.env.APP_B_URL}${WELL_KNOWN}`)
    assert.equal(response.status, 200)
    assert.match(response.headers.get('cache-control') ?? '', /public/)
    const document = (await response.json()) as Record<string, unknown>
    assert.equal(document.resource, stack.env.APP_B_URL)
    assert.ok((document.authorization_servers as string[]).includes(stack.idp.issuer))
    assert.deepEqual(document.bearer_methods_supported, ['header'])
    assert.deepEqual(document.scopes_supported, ['todos:read', 'todos:write', 'activity:read'])
    assert.deepEqual(document.dpop_signing_alg_values_supported, [
      'ES256',
      'ES384',
      'EdDSA',
      'PS256',
    ])
    assert.equal(document.dpop_bound_access_tokens_required, false)
  })

  it('challengeWhenAppBRefusesThenItPointsToItsMetadata (RFC 9728 §5.1)', async () => {
    const response = await fetch(`${stack.env.APP_B_URL}/api/todos`)
    assert.equal(response.status, 401)
    const challenge = response.headers.get('www-authenticate') ?? ''
    assert.match(
      challenge,
      new RegExp(`^Bearer realm="app-b", resource_metadata="${stack.env.APP_B_URL}${WELL_KNOWN}"`),
    )
  })

  it('metadataWhenAppCIsAskedThenItNamesItsIssuerAndNoDpop', async () => {
    const document = (await (await fetch(`${stack.env.APP_C_URL}${WELL_KNOWN}`)).json()) as Record<
      string,
      unknown
    >
    assert.equal(document.resource, stack.env.APP_C_URL)
    assert.deepEqual(document.authorization_servers, [stack.idp.issuer])
    assert.equal(document.dpop_signing_alg_values_supported, undefined)
    const refused = await fetch(`${stack.env.APP_C_URL}/api/activity`)
    assert.equal(refused.status, 401)
    assert.match(refused.headers.get('www-authenticate') ?? '', /resource_metadata="[^"]+"/)
  })

  it('discoveryWhenStartingFromAppBsUrlThenTheIdpTokenEndpointAndAResourceExchangeAppBAccepts', async () => {
    const found = await discoverProtectedResource(stack.env.APP_B_URL)
    assert.equal(found.authorizationServer, stack.idp.issuer)
    assert.equal(found.tokenEndpoint, `${stack.idp.issuer}/token`)
    assert.equal(found.resource, stack.env.APP_B_URL)
    const login = await loginForTokens(stack)
    const exchanger = createTokenExchangeClient({
      tokenEndpoint: found.tokenEndpoint,
      clientId: 'app-a',
      clientSecret: stack.env.APP_A_CLIENT_SECRET,
    })
    // RFC 8707 `resource`, no `audience`: the engine resolves the target from the policy.
    const exchanged = await exchanger.exchange({
      subjectToken: login.access_token,
      audience: '',
      resource: found.resource,
      scope: 'todos:read',
    })
    assert.equal(decodeJwt(exchanged.accessToken).payload.aud, 'app-b')
    const served = await fetch(`${stack.env.APP_B_URL}/api/todos/count`, {
      headers: { authorization: `Bearer ${exchanged.accessToken}` },
    })
    assert.equal(served.status, 200)
  })

  it('discoveryWhenAResourceServesAnotherResourcesDocumentThenResourceMismatch', async () => {
    const appBDocument = await (await fetch(`${stack.env.APP_B_URL}${WELL_KNOWN}`)).json()
    const url = await impostor((app) => app.get(WELL_KNOWN, async () => appBDocument))
    await assert.rejects(
      discoverProtectedResource(url),
      (err: unknown) => err instanceof ResourceDiscoveryError && err.reason === 'resource_mismatch',
    )
  })

  it('discoveryWhenTheNamedServerClaimsAnotherIssuerThenIssuerMismatch', async () => {
    let self = ''
    self = await impostor((app) => {
      app.get(WELL_KNOWN, async () => ({ resource: self, authorization_servers: [self] }))
      // Claims to be the real IdP: a client trusting it would send tokens to this server.
      app.get('/.well-known/openid-configuration', async () => ({
        issuer: stack.idp.issuer,
        token_endpoint: `${self}/token`,
      }))
    })
    await assert.rejects(
      discoverProtectedResource(self),
      (err: unknown) => err instanceof ResourceDiscoveryError && err.reason === 'issuer_mismatch',
    )
  })

  it('discoveryWhenNoMetadataIsPublishedThenNotFound', async () => {
    const url = await impostor(() => {})
    await assert.rejects(
      discoverProtectedResource(url),
      (err: unknown) => err instanceof ResourceDiscoveryError && err.reason === 'not_found',
    )
  })
})
