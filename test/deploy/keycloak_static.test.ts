/**
 * Static checks of deploy/keycloak: the compose file and the realm file parse and avoid every
 * pitfall in shared/reference/keycloak.md — one named test per pitfall. No Keycloak is started.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEVELOPMENT_SECRETS } from '../../src/config/env.js'
import { imageTag, readDeploy, readJson, readYaml } from './helpers.js'

const compose = readYaml('keycloak/docker-compose.keycloak.yml')
const keycloak = compose.services.keycloak
const realm = readJson('keycloak/realm-onbehalf.json')
const readme = readDeploy('keycloak/README.md')
const client = (clientId: string) =>
  realm.clients.find((c: { clientId: string }) => c.clientId === clientId)
const appA = client('app-a')
const appB = client('app-b')
const command = [keycloak.command].flat().join(' ')

describe('deploy/keycloak: compose file', () => {
  it('pins Keycloak 26.x to an exact tag (26.2+ has standard token exchange V2)', () => {
    assert.match(keycloak.image, /^quay\.io\/keycloak\/keycloak:/)
    const [major, minor, patch] = imageTag(keycloak.image).split('.').map(Number)
    assert.equal(major, 26)
    assert.ok(minor! >= 2, 'standard token exchange V2 is supported from 26.2')
    assert.ok(Number.isInteger(patch), 'exact tag, not a floating 26 or latest')
  })

  it('pins the same version as the launcher and CI (deploy/keycloak/VERSION)', () => {
    assert.equal(imageTag(keycloak.image), readDeploy('keycloak/VERSION').trim())
  })

  it('runs start-dev --import-realm with the realm mounted in /opt/keycloak/data/import', () => {
    assert.match(command, /^start-dev\b/)
    assert.match(command, /--import-realm\b/)
    assert.ok(
      keycloak.volumes.some((v: string) =>
        /^\.\/realm-onbehalf\.json:\/opt\/keycloak\/data\/import\/[^:]+\.json(:ro)?$/.test(v),
      ),
    )
  })

  it('does not turn on legacy token exchange V1 or fine-grained admin permissions V1', () => {
    const all = `${command} ${JSON.stringify(keycloak.environment)}`
    assert.doesNotMatch(all, /token-exchange(?!-standard)|admin-fine-grained-authz/)
    assert.doesNotMatch(all, /features-disabled=[^ ]*token-exchange-standard/)
  })

  it('bootstraps the admin (KC_BOOTSTRAP_ADMIN_USERNAME / _PASSWORD) for the setup command', () => {
    assert.ok(keycloak.environment.KC_BOOTSTRAP_ADMIN_USERNAME)
    assert.ok(keycloak.environment.KC_BOOTSTRAP_ADMIN_PASSWORD)
  })

  it('enables health and checks readiness on the management port 9000', () => {
    assert.equal(String(keycloak.environment.KC_HEALTH_ENABLED), 'true')
    const test = [keycloak.healthcheck.test].flat().join(' ')
    assert.match(test, /127\.0\.0\.1\/9000/)
    assert.match(test, /\/health\/ready/)
  })

  it('issuer: one host name for browser, apps and containers (KC_HOSTNAME=http://keycloak:8080, port 8080 published)', () => {
    assert.equal(keycloak.environment.KC_HOSTNAME, 'http://keycloak:8080')
    assert.ok(keycloak.ports.some((p: string) => /^(127\.0\.0\.1:)?8080:8080$/.test(p)))
    assert.match(readme, /127\.0\.0\.1\s+keycloak/, 'README names the hosts entry')
  })

  it('README: readiness wait, the setup command, re-import (--import-realm skips an existing realm)', () => {
    assert.match(readme, /\/realms\/onbehalf\/\.well-known\/openid-configuration/)
    assert.match(readme, /onbehalf setup keycloak/)
    assert.match(readme, /skips an existing realm/i)
    assert.match(readme, /onbehalf doctor --idp keycloak/)
  })
})

describe('deploy/keycloak: realm file', () => {
  it('is the onbehalf realm, enabled, plain HTTP allowed for the local demo', () => {
    assert.equal(realm.realm, 'onbehalf')
    assert.equal(realm.enabled, true)
    assert.equal(realm.sslRequired, 'none')
  })

  it('pitfall: no clientScopes array (it would suppress the built-in scopes: tokens without sub)', () => {
    assert.equal('clientScopes' in realm, false)
    assert.equal('defaultDefaultClientScopes' in realm, false)
  })

  it('pitfall: the sub claim — every client keeps the built-in basic scope (and profile, email)', () => {
    for (const c of [appA, appB]) {
      for (const scope of ['basic', 'profile', 'email'])
        assert.ok(c.defaultClientScopes.includes(scope), `${c.clientId} has ${scope}`)
    }
  })

  it('pitfall: standard token exchange is switched on on the requesting client only (client attribute)', () => {
    assert.equal(appA.attributes['standard.token.exchange.enabled'], 'true')
    assert.notEqual(appB.attributes['standard.token.exchange.enabled'], 'true')
  })

  it('pitfall: app-a is confidential (public clients get invalid_client on exchange)', () => {
    assert.equal(appA.publicClient, false)
    assert.equal(appA.clientAuthenticatorType, 'client-secret')
    assert.equal(
      appA.secret,
      DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET,
      'the secret App A uses by default',
    )
    assert.equal(appB.secret, DEVELOPMENT_SECRETS.APP_B_CLIENT_SECRET)
  })

  it('pitfall: app-b exists and is enabled (the audience client must exist)', () => {
    assert.ok(appB)
    assert.equal(appB.enabled, true)
  })

  it("pitfall: aud of app-a's login token — app-a only, app-b comes from an exchange, never from login", () => {
    const audiences = (c: any) =>
      (c.protocolMappers ?? [])
        .filter((m: any) => m.protocolMapper === 'oidc-audience-mapper')
        .map((m: any) => m.config['included.client.audience'])
    assert.deepEqual(audiences(appA), ['app-a'])
    assert.deepEqual(audiences(appB), ['app-b'])
    assert.ok(
      !appA.defaultClientScopes.some((s: string) => /app-b/.test(s)),
      'no default scope adds app-b to login tokens',
    )
    const mapper = appA.protocolMappers[0]
    assert.equal(mapper.config['access.token.claim'], 'true')
  })

  it('pitfall: lightweight access tokens are off (they drop the claims the apps read)', () => {
    for (const c of [appA, appB])
      assert.equal(c.attributes['client.use.lightweight.access.token.enabled'], 'false')
  })

  it('pitfall: users are fully set up (email, names, emailVerified, no required actions), password changeme', () => {
    assert.deepEqual(realm.users.map((u: any) => u.username).sort(), ['alice', 'bob', 'demo'])
    for (const user of realm.users) {
      assert.equal(user.enabled, true)
      assert.equal(user.emailVerified, true)
      assert.match(user.email, /@/)
      assert.ok(user.firstName && user.lastName, `${user.username} has first and last name`)
      assert.deepEqual(user.requiredActions ?? [], [])
      assert.deepEqual(user.credentials, [
        { type: 'password', value: 'changeme', temporary: false },
      ])
    }
  })

  it("redirect URIs: exactly the apps' callbacks (no wildcards), code flow with PKCE S256, no password grant", () => {
    assert.deepEqual(appA.redirectUris, [
      'http://localhost:3993/auth/callback',
      'http://127.0.0.1:3993/auth/callback',
    ])
    assert.deepEqual(appB.redirectUris, [
      'http://localhost:3994/auth/callback',
      'http://127.0.0.1:3994/auth/callback',
    ])
    for (const c of [appA, appB]) {
      assert.ok(c.redirectUris.every((uri: string) => !uri.includes('*')))
      assert.equal(c.standardFlowEnabled, true)
      assert.equal(c.implicitFlowEnabled, false)
      assert.equal(c.directAccessGrantsEnabled, false)
      assert.equal(c.attributes['pkce.code.challenge.method'], 'S256')
    }
  })

  it('Keycloak 26.7.3 findings: ES256 signatures, at+jwt, client_id, default roles, a service account with sub = client_id', () => {
    assert.equal(
      realm.defaultSignatureAlgorithm,
      'ES256',
      'App A and App B pin ES256; Keycloak signs RS256 by default',
    )
    for (const c of [appA, appB]) {
      assert.equal(
        c.attributes['access.token.header.type.rfc9068'],
        'true',
        `${c.clientId}: typ at+jwt`,
      )
      const mapper = c.protocolMappers.find((m: any) => m.config['claim.name'] === 'client_id')
      assert.equal(mapper?.config['claim.value'], c.clientId, `${c.clientId}: client_id claim`)
    }
    for (const user of realm.users)
      assert.deepEqual(
        user.realmRoles,
        ['default-roles-onbehalf'],
        'imported users get no default roles otherwise',
      )
    assert.equal(appA.serviceAccountsEnabled, true)
    assert.ok(
      appA.protocolMappers.some(
        (m: any) =>
          m.config['user.session.note'] === 'client_id' && m.config['claim.name'] === 'sub',
      ),
    )
    assert.notEqual(appB.serviceAccountsEnabled, true)
  })

  it('attribute values are strings (Keycloak client attributes are a string map)', () => {
    for (const c of [appA, appB]) {
      for (const value of Object.values(c.attributes)) assert.equal(typeof value, 'string')
      for (const mapper of c.protocolMappers)
        for (const value of Object.values(mapper.config)) assert.equal(typeof value, 'string')
    }
  })

  it('no legacy V1 parameters: nothing relies on fine-grained permissions or token-exchange policies', () => {
    assert.doesNotMatch(
      JSON.stringify(realm),
      /authorizationSettings|token-exchange\b(?!.*standard)/,
    )
  })
})
