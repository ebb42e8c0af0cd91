/**
 * Static checks of deploy/authentik: the compose file, .env.example and the two blueprints parse and
 * hold what shared/reference/authentik.md requires — one named test per pitfall. No authentik runs.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseEnv } from 'node:util'
import { DEVELOPMENT_SECRETS } from '../../src/config/env.js'
import { imageTag, readBlueprint, readDeploy, readYaml } from './helpers.js'

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const compose = readYaml('authentik/docker-compose.authentik.yml')
const envExample = parseEnv(readDeploy('authentik/.env.example'))
const readme = readDeploy('authentik/README.md')
const base = readBlueprint('authentik/blueprints/2026.5/onbehalf.yaml')
const variant = readBlueprint('authentik/blueprints/2026.8/onbehalf.yaml')

type Entry = {
  model: string
  id?: string
  identifiers: Record<string, unknown>
  attrs: Record<string, any>
  state?: string
}
const entries = (blueprint: any): Entry[] => blueprint.entries
const provider = (blueprint: any, name: string) =>
  entries(blueprint).find(
    (e) => e.model === 'authentik_providers_oauth2.oauth2provider' && e.identifiers.name === name,
  )!
const find = (model: string, field: string, value: string) => ({ '!Find': [model, [field, value]] })
const managedScope = (scope: string) =>
  find(
    'authentik_providers_oauth2.scopemapping',
    'managed',
    `goauthentik.io/providers/oauth2/scope-${scope}`,
  )

describe('deploy/authentik: compose file and .env.example', () => {
  it('has postgresql, server (command server) and worker (command worker), and no redis', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['postgresql', 'server', 'worker'])
    assert.equal(compose.services.server.command, 'server')
    assert.equal(compose.services.worker.command, 'worker')
    assert.equal(compose.services.server.image, compose.services.worker.image)
    assert.doesNotMatch(JSON.stringify(compose), /REDIS/i)
  })

  it('pins exact image tags (blueprint fields change between versions)', () => {
    assert.match(compose.services.server.image, /^ghcr\.io\/goauthentik\/server:/)
    assert.match(imageTag(compose.services.server.image), /^\d{4}\.\d{1,2}\.\d+$/)
    assert.match(imageTag(compose.services.postgresql.image), /^16\.\d+(-alpine)?$/)
    assert.equal(envExample.AUTHENTIK_TAG, imageTag(compose.services.server.image))
  })

  it('the default blueprint folder matches the default version (2026.5.x ↔ blueprints/2026.5)', () => {
    const tag = imageTag(compose.services.server.image)
    for (const service of ['server', 'worker']) {
      const volume = compose.services[service].volumes.find((v: string) =>
        v.includes('/blueprints/'),
      )
      assert.match(
        volume,
        /^\.\/blueprints\/\$\{ONBEHALF_BLUEPRINTS:-(\d{4}\.\d+)\}:\/blueprints\/onbehalf:ro$/,
      )
      assert.equal(/:-(\d{4}\.\d+)\}/.exec(volume)![1], tag.split('.').slice(0, 2).join('.'))
    }
    assert.equal(envExample.ONBEHALF_BLUEPRINTS, '2026.5')
  })

  it('pitfall: blueprints are applied by the worker — it mounts exactly one version folder, never both', () => {
    const volumes: string[] = compose.services.worker.volumes
    assert.equal(volumes.filter((v) => v.includes('blueprints')).length, 1)
    assert.doesNotMatch(
      volumes.join(' '),
      /\.\/blueprints:/,
      'mounting the parent folder would apply both variants',
    )
  })

  it('.env: PG_PASS, AUTHENTIK_SECRET_KEY and the first-start bootstrap variables', () => {
    for (const name of [
      'PG_PASS',
      'AUTHENTIK_SECRET_KEY',
      'AUTHENTIK_BOOTSTRAP_PASSWORD',
      'AUTHENTIK_BOOTSTRAP_TOKEN',
      'AUTHENTIK_BOOTSTRAP_EMAIL',
    ]) {
      assert.ok(name in envExample, `${name} in .env.example`)
    }
    const env = compose.services.server.environment
    assert.match(env.AUTHENTIK_SECRET_KEY, /:\?/, 'required, no silent default')
    assert.match(env.AUTHENTIK_POSTGRESQL__PASSWORD, /PG_PASS:\?/)
    assert.equal(env.AUTHENTIK_POSTGRESQL__HOST, 'postgresql')
    assert.deepEqual(compose.services.worker.environment, env)
  })

  it("pitfall: the blueprint's !Env secrets reach the worker and equal the apps' defaults", () => {
    const env = compose.services.worker.environment
    assert.match(env.APP_A_CLIENT_SECRET, new RegExp(DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET))
    assert.match(env.APP_B_CLIENT_SECRET, new RegExp(DEVELOPMENT_SECRETS.APP_B_CLIENT_SECRET))
    assert.deepEqual(provider(base, 'app-a').attrs.client_secret, {
      '!Env': ['APP_A_CLIENT_SECRET', DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET],
    })
    assert.deepEqual(provider(base, 'app-b').attrs.client_secret, {
      '!Env': ['APP_B_CLIENT_SECRET', DEVELOPMENT_SECRETS.APP_B_CLIENT_SECRET],
    })
  })

  it('pitfall: issuer from the Host header — port 9000 published as is, README names the hosts entry', () => {
    assert.ok(
      compose.services.server.ports.some((p: string) => /^(127\.0\.0\.1:)?9000:9000$/.test(p)),
    )
    assert.match(readme, /127\.0\.0\.1\s+authentik/)
  })

  it("pitfall: blueprints apply asynchronously — README waits for health and for app-b's discovery", () => {
    assert.match(readme, /\/-\/health\/ready\//)
    assert.match(readme, /\/application\/o\/app-b\/\.well-known\/openid-configuration/)
  })

  it('postgres waits for readiness before server and worker start', () => {
    assert.match(JSON.stringify(compose.services.postgresql.healthcheck.test), /pg_isready/)
    assert.equal(compose.services.server.depends_on.postgresql.condition, 'service_healthy')
    assert.equal(compose.services.worker.depends_on.postgresql.condition, 'service_healthy')
  })
})

for (const [label, blueprint] of [
  ['2026.5', base],
  ['2026.8', variant],
] as const) {
  describe(`deploy/authentik: blueprint ${label}`, () => {
    it('is a version 1 blueprint whose entries have model, identifiers and attrs', () => {
      assert.equal(blueprint.version, 1)
      for (const entry of entries(blueprint)) {
        assert.match(entry.model, /^authentik_[a-z0-9_]+\.[a-z0-9]+$/)
        assert.ok(entry.identifiers && Object.keys(entry.identifiers).length > 0)
        assert.equal(typeof entry.attrs, 'object')
      }
    })

    it('users demo, alice and bob with name, email and password changeme', () => {
      const users = entries(blueprint).filter((e) => e.model === 'authentik_core.user')
      assert.deepEqual(users.map((u) => u.identifiers.username).sort(), ['alice', 'bob', 'demo'])
      for (const user of users) {
        assert.equal(user.attrs.password, 'changeme')
        assert.match(user.attrs.email, /@example\.test$/)
        assert.ok(user.attrs.name)
        assert.equal(user.attrs.is_active, true)
      }
    })

    it('providers are confidential with fixed client ids, flows found by slug', () => {
      for (const name of ['app-a', 'app-b']) {
        const { attrs } = provider(blueprint, name)
        assert.equal(attrs.client_type, 'confidential')
        assert.equal(attrs.client_id, name)
        assert.deepEqual(
          attrs.authorization_flow,
          find('authentik_flows.flow', 'slug', 'default-provider-authorization-implicit-consent'),
        )
        assert.deepEqual(
          attrs.invalidation_flow,
          find('authentik_flows.flow', 'slug', 'default-provider-invalidation-flow'),
        )
        assert.equal(attrs.issuer_mode, 'per_provider')
      }
    })

    it('pitfall: an asymmetric signing key on both providers (HS256 breaks JWT federation up to 2026.5)', () => {
      for (const name of ['app-a', 'app-b']) {
        assert.deepEqual(
          provider(blueprint, name).attrs.signing_key,
          find('authentik_crypto.certificatekeypair', 'name', 'authentik Self-signed Certificate'),
        )
      }
    })

    it('pitfall: trust sits on the minting provider — app-b federates app-a, not the other way round', () => {
      assert.equal(provider(blueprint, 'app-a').id, 'provider-app-a')
      assert.deepEqual(provider(blueprint, 'app-b').attrs.jwt_federation_providers, [
        { '!KeyOf': 'provider-app-a' },
      ])
      assert.equal(provider(blueprint, 'app-a').attrs.jwt_federation_providers, undefined)
    })

    it("pitfall: scopes are cut to app-b's mappings — app-b has openid, email, profile and todos:read", () => {
      const mappings = provider(blueprint, 'app-b').attrs.property_mappings
      for (const scope of ['openid', 'email', 'profile'])
        assert.ok(
          mappings.some((m: unknown) => JSON.stringify(m) === JSON.stringify(managedScope(scope))),
          scope,
        )
      const todos = entries(blueprint).find(
        (e) =>
          e.model === 'authentik_providers_oauth2.scopemapping' &&
          e.identifiers.scope_name === 'todos:read',
      )!
      assert.ok(todos.id)
      assert.ok(
        mappings.some((m: unknown) => JSON.stringify(m) === JSON.stringify({ '!KeyOf': todos.id })),
      )
    })

    it('pitfall: grant types set explicitly on each provider (from 2026.5)', () => {
      const appA = provider(blueprint, 'app-a').attrs.grant_types
      const appB = provider(blueprint, 'app-b').attrs.grant_types
      assert.deepEqual(
        appB,
        ['authorization_code', 'refresh_token', 'client_credentials'],
        'JWT federation is a client_credentials grant at app-b',
      )
      assert.deepEqual(appA.slice(0, 2), ['authorization_code', 'refresh_token'])
      assert.equal(appA.includes(TOKEN_EXCHANGE), label === '2026.8', 'RFC 8693 only on 2026.8+')
    })

    it("redirect URIs are strict and exactly the apps' callbacks", () => {
      for (const [name, port] of [
        ['app-a', 3993],
        ['app-b', 3994],
      ] as const) {
        assert.deepEqual(provider(blueprint, name).attrs.redirect_uris, [
          { matching_mode: 'strict', url: `http://localhost:${port}/auth/callback` },
          { matching_mode: 'strict', url: `http://127.0.0.1:${port}/auth/callback` },
        ])
      }
    })

    it('applications app-a and app-b (their slugs make the issuers) point at their providers', () => {
      const apps = entries(blueprint).filter((e) => e.model === 'authentik_core.application')
      assert.deepEqual(
        apps.map((a) => [a.identifiers.slug, a.attrs.provider]),
        [
          ['app-a', { '!KeyOf': 'provider-app-a' }],
          ['app-b', { '!KeyOf': 'provider-app-b' }],
        ],
      )
    })

    it('every !KeyOf names an entry id defined earlier in the file', () => {
      const seen = new Set<string>()
      const walk = (value: unknown): void => {
        if (value && typeof value === 'object') {
          const keyOf = (value as Record<string, unknown>)['!KeyOf']
          if (typeof keyOf === 'string')
            assert.ok(seen.has(keyOf), `!KeyOf ${keyOf} defined before use`)
          for (const child of Object.values(value)) walk(child)
        }
      }
      for (const entry of entries(blueprint)) {
        walk(entry.attrs)
        if (entry.id) seen.add(entry.id)
      }
    })
  })
}

describe('deploy/authentik: the 2026.8 variant', () => {
  it('equals the 2026.5 blueprint except the token exchange grant on app-a (and its description)', () => {
    const strip = (blueprint: any) => {
      const copy = structuredClone(blueprint)
      delete copy.metadata.labels['blueprints.goauthentik.io/description']
      const appA = copy.entries.find((e: Entry) => e.identifiers.name === 'app-a')
      appA.attrs.grant_types = appA.attrs.grant_types.filter((g: string) => g !== TOKEN_EXCHANGE)
      return copy
    }
    assert.deepEqual(strip(variant), strip(base))
  })

  it('README flags what is uncertain about 2026.8', () => {
    assert.match(readme, /Uncertain/)
    assert.match(readme, /2026\.8/)
  })
})
