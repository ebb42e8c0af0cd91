/**
 * Against a real authentik, only when it is there: AUTHENTIK_URL (e.g. http://authentik:9000,
 * deploy/authentik); otherwise skipped with the reason. No authentik image or registry can be
 * reached from here, so this stays unverified. The live Keycloak tests are in test/keycloak/.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runDoctor, formatReport } from '../../src/cli/doctor/index.js'
import { DEVELOPMENT_SECRETS } from '../../src/config/env.js'
import { loadIdpSettings } from '../../src/config/idp_settings.js'
import { idpProfile } from '../../src/idp_profiles/index.js'

const AUTHENTIK_URL = process.env.AUTHENTIK_URL
const skipAuthentik = AUTHENTIK_URL
  ? false
  : 'AUTHENTIK_URL is not set (start deploy/authentik and set AUTHENTIK_URL=http://authentik:9000)'

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
