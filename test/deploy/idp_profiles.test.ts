/**
 * src/idp_profiles: issuer and discovery derivation per IdP kind, supported strategies (authentik by
 * version); src/config/idp_settings.ts: settings validation whose messages name the variable.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigError } from '../../src/config/env.js'
import { loadIdpSettings } from '../../src/config/idp_settings.js'
import { discoveryUrlOf, idpProfile, parseCalVer } from '../../src/idp_profiles/index.js'

const problemsOf = (env: Record<string, string>): readonly string[] => {
  try {
    loadIdpSettings(env)
  } catch (error) {
    assert.ok(error instanceof ConfigError)
    return error.problems
  }
  assert.fail('expected a ConfigError')
}

describe('idp profiles', () => {
  it('embedded by default: issuer IDP_ISSUER (default http://localhost:9000), RFC 8693 and both workaround patterns', () => {
    const settings = loadIdpSettings({})
    assert.equal(settings.kind, 'embedded')
    assert.equal(idpProfile('embedded').issuerFor(settings, 'app-a'), 'http://localhost:9000')
    assert.deepEqual(settings.strategies, ['rfc8693', 'jwt-federation', 'header-workaround'])
    assert.equal(
      idpProfile('embedded').issuerFor(
        loadIdpSettings({ IDP_ISSUER: 'http://127.0.0.1:9100/' }),
        'app-a',
      ),
      'http://127.0.0.1:9100',
    )
  })

  it('keycloak: <KEYCLOAK_URL>/realms/<KEYCLOAK_REALM>, RFC 8693, the audience scope in the exchange', () => {
    const settings = loadIdpSettings({
      IDP: 'keycloak',
      KEYCLOAK_URL: 'http://keycloak:8080/',
      KEYCLOAK_REALM: 'demo',
    })
    const profile = idpProfile('keycloak')
    assert.equal(profile.issuerFor(settings, 'app-a'), 'http://keycloak:8080/realms/demo')
    assert.deepEqual(settings.strategies, ['rfc8693'])
    assert.equal(profile.exchangeScope('app-b', 'todos:read'), 'app-b-audience todos:read')
    assert.equal(profile.htmlLoginForm, true)
  })

  it('authentik ≤ 2026.5: one issuer per application, JWT federation and the header workaround only', () => {
    const settings = loadIdpSettings({ IDP: 'authentik', AUTHENTIK_VERSION: '2026.5.6' })
    const profile = idpProfile('authentik')
    assert.equal(profile.issuerFor(settings, 'app-a'), 'http://authentik:9000/application/o/app-a/')
    assert.equal(profile.issuerFor(settings, 'app-b'), 'http://authentik:9000/application/o/app-b/')
    assert.deepEqual(settings.strategies, ['jwt-federation', 'header-workaround'])
    assert.equal(profile.htmlLoginForm, false)
  })

  it('authentik ≥ 2026.8 adds RFC 8693', () => {
    assert.deepEqual(
      loadIdpSettings({ IDP: 'authentik', AUTHENTIK_VERSION: '2026.8' }).strategies,
      ['jwt-federation', 'header-workaround', 'rfc8693'],
    )
    assert.deepEqual(
      loadIdpSettings({ IDP: 'authentik', AUTHENTIK_VERSION: '2027.1.0' }).strategies,
      ['jwt-federation', 'header-workaround', 'rfc8693'],
    )
  })

  it('generic: IDP_ISSUER plus IDP_STRATEGIES', () => {
    const settings = loadIdpSettings({
      IDP: 'generic',
      IDP_ISSUER: 'https://idp.example/realm/',
      IDP_STRATEGIES: 'rfc8693, header-workaround',
    })
    assert.equal(idpProfile('generic').issuerFor(settings, 'app-a'), 'https://idp.example/realm')
    assert.deepEqual(settings.strategies, ['rfc8693', 'header-workaround'])
  })

  it('discovery URL: issuer + /.well-known/openid-configuration (no double slash)', () => {
    assert.equal(
      discoveryUrlOf('http://authentik:9000/application/o/app-a/'),
      'http://authentik:9000/application/o/app-a/.well-known/openid-configuration',
    )
    assert.equal(
      discoveryUrlOf('http://localhost:9000'),
      'http://localhost:9000/.well-known/openid-configuration',
    )
  })

  it('parses authentik calendar versions', () => {
    assert.deepEqual(parseCalVer('2026.5.6'), { year: 2026, minor: 5, patch: 6 })
    assert.equal(parseCalVer('v2026'), undefined)
  })
})

describe('idp settings validation: messages name the variable', () => {
  it('IDP must be a known kind', () => {
    assert.deepEqual(problemsOf({ IDP: 'okta' }), [
      'IDP: must be one of embedded, keycloak, authentik, generic',
    ])
  })

  it('IDP=generic needs IDP_ISSUER', () => {
    assert.deepEqual(problemsOf({ IDP: 'generic' }), ['IDP_ISSUER: required when IDP=generic'])
  })

  it('IDP_STRATEGIES must be supported by the IdP (authentik 2026.5 has no RFC 8693)', () => {
    assert.deepEqual(
      problemsOf({ IDP: 'authentik', AUTHENTIK_VERSION: '2026.5', IDP_STRATEGIES: 'rfc8693' }),
      [
        'IDP_STRATEGIES: authentik 2026.5 does not support rfc8693 (supported: jwt-federation, header-workaround)',
      ],
    )
    assert.match(
      problemsOf({ IDP_STRATEGIES: 'magic' })[0]!,
      /^IDP_STRATEGIES: each must be one of rfc8693, jwt-federation, header-workaround/,
    )
  })

  it('reports every problem at once', () => {
    const problems = problemsOf({
      IDP: 'keycloak',
      KEYCLOAK_URL: 'keycloak',
      KEYCLOAK_REALM: 'a realm',
      AUTHENTIK_VERSION: 'latest',
      IDP_ISSUER: 'ftp://x',
    })
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), [
      'AUTHENTIK_VERSION',
      'IDP_ISSUER',
      'KEYCLOAK_REALM',
      'KEYCLOAK_URL',
    ])
  })

  it('returns frozen settings', () => {
    assert.ok(Object.isFrozen(loadIdpSettings({})))
  })
})
