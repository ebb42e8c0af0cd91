/**
 * `onbehalf doctor` against the real embedded IdP (startStack): every check passes and the test
 * exchange succeeds; with a wrong client secret the client-authentication check fails with its fix.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import {
  doctorOptionsFrom,
  findLoginForm,
  formatReport,
  runDoctor,
  runDoctorCommand,
  type DoctorOptions,
} from '../../src/cli/doctor/index.js'
import { startStack, type Stack } from '../helpers/stack.js'

function optionsFor(stack: Stack, overrides: Partial<DoctorOptions> = {}): DoctorOptions {
  return {
    idp: 'embedded',
    issuer: stack.idp.issuer,
    strategies: ['rfc8693'],
    clientId: 'app-a',
    clientSecret: stack.env.APP_A_CLIENT_SECRET,
    audience: 'app-b',
    scope: 'todos:read',
    redirectUri: `${stack.env.APP_A_URL}/auth/callback`,
    username: 'demo',
    password: 'changeme',
    ...overrides,
  }
}

const statusOf = (report: { checks: readonly { id: string; status: string }[] }) =>
  Object.fromEntries(report.checks.map((check) => [check.id, check.status]))

describe('onbehalf doctor against the embedded IdP', () => {
  let stack: Stack
  before(async () => {
    stack = await startStack()
  })
  after(() => stack?.close())

  it('passes every check and performs a test exchange (login through the real form)', async () => {
    const report = await runDoctor(optionsFor(stack))
    assert.equal(report.ok, true, formatReport(report))
    assert.deepEqual(statusOf(report), {
      discovery: 'pass',
      'grant-types': 'pass',
      'auth-methods': 'pass',
      'client-auth': 'pass',
      'exchange-enabled': 'pass',
      'subject-token': 'pass',
      exchange: 'pass',
    })
    const exchange = report.checks.find((check) => check.id === 'exchange')!
    assert.match(exchange.detail, /aud="app-b"/)
    assert.match(exchange.detail, /act=\{"sub":"app-a"/)
    assert.match(exchange.detail, /same sub as the subject token/)
    const probe = report.checks.find((check) => check.id === 'client-auth')!
    assert.match(
      probe.detail,
      /invalid_request/,
      'credentials accepted, the fake subject token refused',
    )
  })

  it('wrong client secret: the client-authentication check fails with its fix, exit code 1', async () => {
    const report = await runDoctor(
      optionsFor(stack, { clientSecret: 'wrong-secret-wrong-secret-wrong-secret' }),
    )
    assert.equal(report.ok, false)
    const check = report.checks.find((c) => c.id === 'client-auth')!
    assert.equal(check.status, 'fail')
    assert.match(check.detail, /invalid_client/)
    assert.match(check.fix!, /refused app-a's credentials: pass the right --client-secret/)
    assert.match(check.fix!, /APP_A_CLIENT_SECRET/)
    const text = formatReport(report)
    assert.match(text, /✘ client authentication: .*invalid_client/)
    assert.match(text, /\n {4}fix: the IdP refused app-a's credentials/)
  })

  it('without credentials it skips the exchange but still passes (exit 0), with a hint', async () => {
    const report = await runDoctor(optionsFor(stack, { username: undefined, password: undefined }))
    assert.equal(report.ok, true)
    assert.equal(statusOf(report)['subject-token'], 'skip')
    assert.equal(statusOf(report).exchange, 'skip')
    assert.match(formatReport(report), /fix: pass --username demo --password changeme/)
  })

  it('wrong password: the subject-token check fails with a fix', async () => {
    const report = await runDoctor(optionsFor(stack, { password: 'not-the-password' }))
    assert.equal(report.ok, false)
    const check = report.checks.find((c) => c.id === 'subject-token')!
    assert.equal(check.status, 'fail')
    assert.match(check.fix!, /check --username\/--password/)
  })

  it('an issuer that does not match discovery fails discovery with a fix', async () => {
    const report = await runDoctor(
      optionsFor(stack, { issuer: stack.idp.issuer.replace('127.0.0.1', 'localhost') }),
    )
    assert.equal(report.ok, false)
    assert.equal(report.checks[0]!.status, 'fail')
    assert.match(report.checks[0]!.detail, /expected http:\/\/localhost/)
    assert.ok(report.checks[0]!.fix)
  })

  it('the command: --json output and exit codes (0 healthy, 1 wrong secret)', async () => {
    const lines: string[] = []
    const io = {
      out: (text: string) => lines.push(text),
      err: (text: string) => lines.push(text),
      env: {},
    }
    const args = [
      '--idp',
      'embedded',
      '--issuer',
      stack.idp.issuer,
      '--client-secret',
      stack.env.APP_A_CLIENT_SECRET,
      '--redirect-uri',
      `${stack.env.APP_A_URL}/auth/callback`,
      '--username',
      'demo',
      '--password',
      'changeme',
    ]
    assert.equal(await runDoctorCommand([...args, '--json'], io), 0)
    const json = JSON.parse(lines.join('\n')) as {
      ok: boolean
      checks: { id: string; status: string }[]
    }
    assert.equal(json.ok, true)
    assert.equal(json.checks.find((c) => c.id === 'exchange')!.status, 'pass')
    assert.ok(!lines.join('').includes('eyJ'), 'no token in the output')
    lines.length = 0
    assert.equal(
      await runDoctorCommand(
        ['--issuer', stack.idp.issuer, '--idp', 'embedded', '--client-secret', 'x'.repeat(40)],
        io,
      ),
      1,
    )
    assert.match(lines.join('\n'), /✘ client authentication/)
  })

  it('the CLI binary exits non-zero and prints the fix when client auth fails', async () => {
    const child = spawn(
      process.execPath,
      [
        // The sources, as the rest of the suite; the compiled bin is run by test/package/.
        '--import',
        'tsx',
        'src/cli/main.ts',
        'doctor',
        '--idp',
        'embedded',
        '--issuer',
        stack.idp.issuer,
        '--client-secret',
        'y'.repeat(40),
      ],
      {
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    assert.equal(code, 1, out)
    assert.match(out, /✘ client authentication/)
    assert.match(out, /fix: the IdP refused app-a's credentials/)
  })
})

describe('doctor options and helpers (no server)', () => {
  it('derives the Keycloak issuer and strategies from the environment', () => {
    const options = doctorOptionsFrom(['--idp', 'keycloak'], {
      KEYCLOAK_URL: 'http://keycloak:8080',
      KEYCLOAK_REALM: 'onbehalf',
    })
    assert.equal(options.issuer, 'http://keycloak:8080/realms/onbehalf')
    assert.deepEqual(options.strategies, ['rfc8693'])
    assert.equal(options.redirectUri, 'http://localhost:3993/auth/callback')
  })

  it('derives the per-application authentik issuer; 2026.5 has no RFC 8693', () => {
    const options = doctorOptionsFrom(['--idp', 'authentik', '--authentik-version', '2026.5'], {})
    assert.equal(options.issuer, 'http://authentik:9000/application/o/app-a/')
    assert.deepEqual(options.strategies, ['jwt-federation', 'header-workaround'])
  })

  it('--issuer without --idp means a generic IdP; an unknown --idp is a usage error', async () => {
    assert.equal(doctorOptionsFrom(['--issuer', 'https://idp.example/'], {}).idp, 'generic')
    const lines: string[] = []
    const code = await runDoctorCommand(['--idp', 'okta'], {
      out: (t) => lines.push(t),
      err: (t) => lines.push(t),
      env: {},
    })
    assert.equal(code, 2)
    assert.match(lines.join('\n'), /--idp must be one of embedded, keycloak, authentik, generic/)
  })

  it('finds a Keycloak-style login form (entities in the action, hidden fields)', () => {
    const html = `<form id="kc-form-login" onsubmit="login.disabled = true; return true;" action="http://keycloak:8080/realms/onbehalf/login-actions/authenticate?session_code=abc&amp;execution=e1&amp;client_id=app-a&amp;tab_id=t1" method="post">
      <input tabindex="2" id="username" class="pf-c-form-control" name="username" value="" type="text" autofocus autocomplete="username">
      <input tabindex="3" id="password" class="pf-c-form-control" name="password" type="password" autocomplete="current-password">
      <input type="hidden" id="id-hidden-input" name="credentialId" value="">
      <input tabindex="4" class="pf-c-button" name="login" id="kc-login" type="submit" value="Sign In"/></form>`
    const form = findLoginForm(html)!
    assert.equal(
      form.action,
      'http://keycloak:8080/realms/onbehalf/login-actions/authenticate?session_code=abc&execution=e1&client_id=app-a&tab_id=t1',
    )
    assert.equal(form.usernameField, 'username')
    assert.equal(form.passwordField, 'password')
    assert.deepEqual(form.fields, { credentialId: '' })
  })
})
