/**
 * IdP selection (IDP=embedded|keycloak|authentik|generic): App A and App B take their issuer, the
 * JWKS location and the paths they run from the IdP profile. Proved here without Docker by
 * pointing the generic profile at the embedded IdP: the apps go through the same code path they
 * use for any other provider, and run only the paths the configuration says the IdP supports.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { loadEnv } from '../../src/config/env.js'
import { issuerForClient, jwksUriForIssuer } from '../../src/idp_profiles/index.js'
import { TestBrowser } from '../helpers/browser.js'
import { startStack, type Stack } from '../helpers/stack.js'

describe('IdP switch through the generic profile, against the embedded IdP', () => {
  let stack: Stack
  before(async () => {
    stack = await startStack({
      apps: true,
      env: ({ issuer }) => ({
        IDP: 'generic',
        IDP_JWKS_URI: `${issuer}/jwks`,
        IDP_STRATEGIES: 'rfc8693',
      }),
    })
  })
  after(() => stack?.close())

  it('App A signs in at the configured issuer and runs only RFC 8693 (and the STS beside it)', async () => {
    assert.equal(stack.env.idp.kind, 'generic')
    const browser = new TestBrowser()
    let page = await browser.navigate(`${stack.env.APP_A_URL}/auth/login`)
    assert.ok(page.url.startsWith(stack.idp.issuer), `login at the configured IdP, not ${page.url}`)
    page = await browser.submitForm(page, { username: 'alice', password: 'changeme' }, '/login')
    assert.equal(page.status, 200, page.url)
    const cards = [
      ...page.body.matchAll(/data-testid="path-card"\s+data-path="([^"]+)"\s+data-ok="([^"]+)"/g),
    ]
    assert.deepEqual(
      cards.map((match) => [match[1], match[2]]),
      [
        ['rfc8693', 'true'],
        ['rfc8693-sts', 'true'],
      ],
    )
  })
})

describe('IdP profiles: where the apps look', () => {
  it('keycloak: realm issuer, its certs endpoint, RFC 8693 only', () => {
    const env = loadEnv({
      IDP: 'keycloak',
      KEYCLOAK_URL: 'http://keycloak:8080',
      KEYCLOAK_REALM: 'onbehalf',
    })
    const issuer = issuerForClient(env.idp, 'app-a')
    assert.equal(issuer, 'http://keycloak:8080/realms/onbehalf')
    assert.equal(
      jwksUriForIssuer(env.idp, issuer),
      'http://keycloak:8080/realms/onbehalf/protocol/openid-connect/certs',
    )
    assert.deepEqual(env.idp.strategies, ['rfc8693'])
  })

  it('authentik: one issuer per application, each with its own JWKS', () => {
    const env = loadEnv({
      IDP: 'authentik',
      AUTHENTIK_URL: 'https://authentik.example',
      AUTHENTIK_VERSION: '2026.5',
    })
    assert.equal(
      issuerForClient(env.idp, 'app-a'),
      'https://authentik.example/application/o/app-a/',
    )
    assert.equal(
      issuerForClient(env.idp, 'app-b'),
      'https://authentik.example/application/o/app-b/',
    )
    assert.equal(
      jwksUriForIssuer(env.idp, issuerForClient(env.idp, 'app-b')),
      'https://authentik.example/application/o/app-b/jwks/',
    )
    assert.deepEqual(env.idp.strategies, ['jwt-federation', 'header-workaround'])
  })

  it('generic without IDP_JWKS_URI: a resource server asking for the keys is told which variable to set', () => {
    const env = loadEnv({ IDP: 'generic', IDP_ISSUER: 'https://idp.example' })
    assert.throws(
      () => jwksUriForIssuer(env.idp, issuerForClient(env.idp, 'app-b')),
      /IDP_JWKS_URI/,
    )
  })
})
