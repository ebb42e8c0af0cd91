/**
 * Against a real Keycloak (KEYCLOAK_URL; test/helpers/keycloak.ts): `onbehalf setup keycloak` on a
 * fresh import of the project's realm, then `onbehalf doctor --idp keycloak` green, then one test
 * per fix the doctor proposes: break the setting on purpose, see the doctor name it and its fix,
 * apply the fix (mostly `setup keycloak`), see the doctor green again.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { formatReport, runDoctor, type DoctorReport } from '../../src/cli/doctor/index.js'
import { runSetupCommand } from '../../src/cli/setup_keycloak.js'
import { DEVELOPMENT_SECRETS } from '../../src/config/env.js'
import {
  adminCredentials,
  createFreshRealm,
  keycloakUrl,
  skipWithoutKeycloak,
  type FreshRealm,
} from '../helpers/keycloak.js'

async function setup(realm: FreshRealm): Promise<{ code: number; text: string }> {
  const lines: string[] = []
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), env: {} }
  const { username, password } = adminCredentials()
  const code = await runSetupCommand(
    [
      'keycloak',
      '--url',
      keycloakUrl(),
      '--realm',
      realm.realm,
      '--admin-user',
      username,
      '--admin-password',
      password,
    ],
    io,
  )
  return { code, text: lines.join('\n') }
}

function doctor(realm: FreshRealm, overrides: Partial<Parameters<typeof runDoctor>[0]> = {}) {
  return runDoctor({
    idp: 'keycloak',
    issuer: realm.issuer,
    strategies: ['rfc8693'],
    clientId: 'app-a',
    clientSecret: DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET,
    audience: 'app-b',
    scope: 'todos:read',
    redirectUri: 'http://localhost:3993/auth/callback',
    username: 'demo',
    password: 'changeme',
    ...overrides,
  })
}

const check = (report: DoctorReport, id: string) => {
  const found = report.checks.find((c) => c.id === id)
  assert.ok(found, `check ${id} in\n${formatReport(report)}`)
  return found
}

function assertAllGreen(report: DoctorReport): void {
  assert.equal(report.ok, true, formatReport(report))
  for (const c of report.checks) assert.equal(c.status, 'pass', formatReport(report))
}

describe('live Keycloak: setup keycloak and doctor', { skip: skipWithoutKeycloak }, () => {
  let realm: FreshRealm
  before(async () => {
    realm = await createFreshRealm({ prefix: 'onbehalf-doctor' })
  })
  after(() => realm?.remove())

  it('WhenSetupRunsOnAFreshImportThenItWritesTheScopesAndTheSecondRunHasNothingToChange', async () => {
    const first = await setup(realm)
    assert.equal(first.code, 0, first.text)
    assert.match(
      first.text,
      /→ POST \/admin\/realms\/[^/]+\/client-scopes {2}\(create client scope app-b-audience\)/,
    )
    assert.match(first.text, /set up: \d+ change\(s\)/)
    assert.doesNotMatch(first.text, /nothing to change/)
    const second = await setup(realm)
    assert.equal(second.code, 0, second.text)
    assert.match(second.text, /nothing to change/)
    assert.doesNotMatch(second.text, /→/, 'the second run sends no write')
  })

  it('WhenTheRealmIsSetUpThenEveryDoctorCheckPassesAndDemosTokenIsExchangedForAppB', async () => {
    const report = await doctor(realm)
    assertAllGreen(report)
    const exchange = check(report, 'exchange')
    assert.match(exchange.detail, /aud="app-b"/)
    assert.match(exchange.detail, /azp="app-a"/)
    assert.match(exchange.detail, /act=—/, 'Keycloak adds no act claim')
    assert.match(exchange.detail, /same sub as the subject token/)
  })

  it('WhenTheClientSecretIsWrongThenClientAuthFailsOnKeycloaks401UnauthorizedClientWithTheCredentialsFix', async () => {
    const report = await doctor(realm, { clientSecret: 'not-the-secret-not-the-secret-0000' })
    assert.equal(report.ok, false)
    const auth = check(report, 'client-auth')
    assert.equal(auth.status, 'fail')
    assert.match(auth.detail, /401 unauthorized_client/, 'what Keycloak 26.7.3 really answers')
    assert.match(auth.fix!, /refused app-a's credentials.*Clients → app-a → Credentials/)
    assert.equal(
      report.checks.find((c) => c.id === 'exchange-enabled'),
      undefined,
      'no verdict on the grant from a refused client',
    )
  })

  it('WhenStandardTokenExchangeIsSwitchedOffThenDoctorNamesItAndSetupKeycloakFixesIt', async () => {
    await realm.updateClient('app-a', (c) => {
      c.attributes['standard.token.exchange.enabled'] = 'false'
    })
    const report = await doctor(realm)
    const enabled = check(report, 'exchange-enabled')
    assert.equal(enabled.status, 'fail', formatReport(report))
    assert.match(enabled.detail, /Standard token exchange is not enabled/)
    assert.match(enabled.fix!, /onbehalf setup keycloak.*standard\.token\.exchange\.enabled/)
    assert.equal((await setup(realm)).code, 0)
    assertAllGreen(await doctor(realm))
  })

  it('WhenTheAudienceScopeIsNotAssignedThenTheExchangeFailsWithInvalidScopeAndSetupFixesIt', async () => {
    const app = await realm.client('app-a')
    const scopes = (await realm.admin.send('GET', `${realm.base}/client-scopes`)).body as any[]
    const audienceScope = scopes.find((s) => s.name === 'app-b-audience')
    const removed = await realm.admin.send(
      'DELETE',
      `${realm.base}/clients/${app.id}/optional-client-scopes/${audienceScope.id}`,
    )
    assert.equal(removed.status, 204)
    const report = await doctor(realm)
    const exchange = check(report, 'exchange')
    assert.equal(exchange.status, 'fail', formatReport(report))
    // Keycloak 26.7.3 refuses the scope before it looks at the audience.
    assert.match(exchange.detail, /400 invalid_scope "Invalid scopes: app-b-audience todos:read"/)
    assert.match(exchange.fix!, /not assigned to app-a.*onbehalf setup keycloak/)
    assert.equal((await setup(realm)).code, 0)
    assertAllGreen(await doctor(realm))
  })

  it('WhenKeycloakSignsWithTypJwtAndNoClientIdThenDoctorSaysAppBWouldRefuseAndSetupFixesIt', async () => {
    await realm.updateClient('app-a', (c) => {
      c.attributes['access.token.header.type.rfc9068'] = 'false'
      c.protocolMappers = (c.protocolMappers ?? []).filter(
        (m: any) => m.config?.['claim.name'] !== 'client_id',
      )
    })
    const report = await doctor(realm)
    const exchange = check(report, 'exchange')
    assert.equal(exchange.status, 'fail', formatReport(report))
    assert.match(exchange.detail, /App B would refuse the token: header typ "JWT"/)
    assert.match(exchange.detail, /no client_id claim/)
    assert.match(exchange.fix!, /access\.token\.header\.type\.rfc9068=true/)
    assert.match(exchange.fix!, /client_id claim mapper/)
    assert.equal((await setup(realm)).code, 0)
    assertAllGreen(await doctor(realm))
  })

  it('WhenLightweightAccessTokensAreOnThenDoctorSaysTheUsersTokenHasNoSubAndSetupFixesIt', async () => {
    await realm.updateClient('app-a', (c) => {
      c.attributes['client.use.lightweight.access.token.enabled'] = 'true'
    })
    const report = await doctor(realm)
    const subject = check(report, 'subject-token')
    assert.equal(subject.status, 'fail', formatReport(report))
    assert.match(subject.detail, /has no sub: sub=— aud=—/)
    assert.match(
      subject.fix!,
      /lightweight access tokens off on app-a: run `onbehalf setup keycloak`/,
    )
    assert.equal(
      check(report, 'exchange').status,
      'skip',
      'no exchange with a token without a user',
    )
    assert.equal((await setup(realm)).code, 0)
    assertAllGreen(await doctor(realm))
  })

  it('WhenTheRealmSignsRs256ThenDoctorSaysAppBPinsEs256AndTheRealmSettingFixesIt', async () => {
    const realmSetting = (alg: string) =>
      realm.admin.send('PUT', realm.base, { defaultSignatureAlgorithm: alg })
    assert.equal((await realmSetting('RS256')).status, 204)
    const report = await doctor(realm)
    const exchange = check(report, 'exchange')
    assert.equal(exchange.status, 'fail', formatReport(report))
    assert.match(exchange.detail, /signed with "RS256", App B pins ES256/)
    assert.match(exchange.fix!, /Default signature algorithm ES256/)
    assert.equal((await realmSetting('ES256')).status, 204)
    assertAllGreen(await doctor(realm))
  })

  it('WhenTheRealmDoesNotExistThenDiscoveryFailsWith404AndTheRealmFixAndNothingElseRuns', async () => {
    const report = await doctor(realm, { issuer: `${keycloakUrl()}/realms/no-such-realm` })
    const discovery = check(report, 'discovery')
    assert.equal(discovery.status, 'fail')
    assert.match(discovery.detail, /answered 404/)
    assert.match(discovery.fix!, /<url>\/realms\/<realm>.*is the realm imported/)
    assert.ok(report.checks.slice(1).every((c) => c.status === 'skip'))
  })

  it('WhenKeycloakIsCalledByAnotherHostNameThenItsIssuerFollowsTheHostSoTheDoctorAdvisesOneUrl', async () => {
    const other = realm.issuer.replace('127.0.0.1', 'localhost')
    if (other === realm.issuer) return // KEYCLOAK_URL is not on 127.0.0.1: no second host name
    // Dev mode (hostname-strict=false): the issuer is built from the Host of each request.
    const report = await doctor(realm, { issuer: other })
    assert.match(check(report, 'discovery').detail, /issuer http:\/\/localhost:/)
    // …so a token got through one name fails the issuer check of apps that use the other.
    const mismatch = await doctor(realm, {
      issuer: realm.issuer,
      fetch: (input, init) => fetch(String(input).replace('127.0.0.1', 'localhost'), init),
    })
    const discovery = check(mismatch, 'discovery')
    assert.equal(discovery.status, 'fail', formatReport(mismatch))
    assert.match(discovery.detail, /discovery says issuer "http:\/\/localhost:/)
    assert.match(discovery.fix!, /one KEYCLOAK_URL everywhere/)
  })

  it('WhenTheUsersPasswordIsWrongThenTheSubjectTokenCheckFailsAtKeycloaksLoginForm', async () => {
    const report = await doctor(realm, { password: 'not-the-password' })
    const subject = check(report, 'subject-token')
    assert.equal(subject.status, 'fail')
    assert.match(subject.fix!, /check --username\/--password/)
    assert.equal(check(report, 'exchange').status, 'skip')
  })
})
