/**
 * Against real IdPs, only when they are there: KEYCLOAK_URL (e.g. http://keycloak:8080, the compose
 * stack in deploy/keycloak) and AUTHENTIK_URL (e.g. http://authentik:9000, deploy/authentik).
 * Otherwise each test is reported as skipped with the reason.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runDoctor, formatReport } from '../../src/cli/doctor/index.js'
import { runSetupCommand } from '../../src/cli/setup_keycloak.js'
import { DEVELOPMENT_SECRETS } from '../../src/config/env.js'
import { loadIdpSettings } from '../../src/config/idp_settings.js'
import { idpProfile } from '../../src/idp_profiles/index.js'

const KEYCLOAK_URL = process.env.KEYCLOAK_URL
const AUTHENTIK_URL = process.env.AUTHENTIK_URL
const skipKeycloak = KEYCLOAK_URL
  ? false
  : 'KEYCLOAK_URL is not set (start deploy/keycloak and set KEYCLOAK_URL=http://keycloak:8080)'
const skipAuthentik = AUTHENTIK_URL
  ? false
  : 'AUTHENTIK_URL is not set (start deploy/authentik and set AUTHENTIK_URL=http://authentik:9000)'

describe('live Keycloak', () => {
  it(
    'setup keycloak converges (second run: nothing to change)',
    { skip: skipKeycloak },
    async () => {
      const lines: string[] = []
      const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) }
      assert.equal(
        await runSetupCommand(['keycloak', '--url', KEYCLOAK_URL!], io),
        0,
        lines.join('\n'),
      )
      lines.length = 0
      assert.equal(
        await runSetupCommand(['keycloak', '--url', KEYCLOAK_URL!], io),
        0,
        lines.join('\n'),
      )
      assert.match(lines.join('\n'), /nothing to change/)
    },
  )

  it(
    "doctor: every check passes and demo's token is exchanged for app-b",
    { skip: skipKeycloak },
    async () => {
      const settings = loadIdpSettings({
        IDP: 'keycloak',
        KEYCLOAK_URL: KEYCLOAK_URL!,
        KEYCLOAK_REALM: process.env.KEYCLOAK_REALM ?? 'onbehalf',
      })
      const report = await runDoctor({
        idp: 'keycloak',
        issuer: idpProfile('keycloak').issuerFor(settings, 'app-a'),
        strategies: settings.strategies,
        clientId: 'app-a',
        clientSecret: process.env.APP_A_CLIENT_SECRET ?? DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET,
        audience: 'app-b',
        scope: 'todos:read',
        redirectUri: 'http://localhost:3993/auth/callback',
        username: 'demo',
        password: 'changeme',
      })
      assert.equal(report.ok, true, formatReport(report))
      assert.equal(
        report.checks.find((c) => c.id === 'exchange')?.status,
        'pass',
        formatReport(report),
      )
    },
  )
})

describe('live authentik', () => {
  it(
    'doctor: discovery, grant types and client authentication pass for app-a',
    { skip: skipAuthentik },
    async () => {
      const settings = loadIdpSettings({
        IDP: 'authentik',
        AUTHENTIK_URL: AUTHENTIK_URL!,
        AUTHENTIK_VERSION: process.env.AUTHENTIK_VERSION ?? '2026.5',
      })
      const report = await runDoctor({
        idp: 'authentik',
        issuer: idpProfile('authentik').issuerFor(settings, 'app-a'),
        strategies: settings.strategies,
        clientId: 'app-a',
        clientSecret: process.env.APP_A_CLIENT_SECRET ?? DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET,
        audience: 'app-b',
        scope: 'todos:read',
        redirectUri: 'http://localhost:3993/auth/callback',
        subjectToken: process.env.AUTHENTIK_SUBJECT_TOKEN,
      })
      assert.equal(report.ok, true, formatReport(report))
      for (const id of ['discovery', 'auth-methods', 'client-auth'])
        assert.equal(report.checks.find((c) => c.id === id)?.status, 'pass', formatReport(report))
    },
  )

  it(
    "the blueprint has been applied: app-b's discovery answers with its own issuer",
    { skip: skipAuthentik },
    async () => {
      const issuer = `${AUTHENTIK_URL!.replace(/\/+$/, '')}/application/o/app-b/`
      const response = await fetch(`${issuer}.well-known/openid-configuration`)
      assert.equal(response.status, 200)
      assert.equal(((await response.json()) as { issuer: string }).issuer, issuer)
    },
  )
})
