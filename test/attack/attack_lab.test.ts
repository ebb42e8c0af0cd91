/**
 * The attack lab against live servers (real IdP, App A, App B): every attempt's verdict, the blast
 * radius, the matrix matching what the runs observed, App A's /attack page and `onbehalf attack`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  attackLabConfigFrom,
  formatMarkdown,
  formatText,
  runAttackLab,
  type AttackReport,
} from '../../src/attack/index.js'
import { runAttackCommand } from '../../src/cli/attack.js'
import { loadUserDirectory } from '../../src/idp/users.js'
import { TestBrowser } from '../helpers/browser.js'
import { startStack, type Stack } from '../helpers/stack.js'

const ALICE = '8c1f4e2a-0b7d-4e93-a5c6-2f8b9d0e1a02'
const BOB = 'd47a9c3e-2f15-4b08-8e6d-5a3c1b9f0e03'
const JWT = /ey[\w-]{10,}\.ey[\w-]{10,}\.[\w-]+/

describe('attack lab against the running stack', () => {
  let stack: Stack
  let report: AttackReport

  before(async () => {
    stack = await startStack({ apps: true })
    // Alice has todos, so a leak is visible as data, not only as her sub.
    const browser = new TestBrowser()
    let page = await browser.navigate(`${stack.env.APP_B_URL}/auth/login`)
    page = await browser.submitForm(page, { username: 'alice', password: 'changeme' }, '/login')
    await browser.submitForm(page, { title: "alice's secret plan" }, '/todos')
    const users = loadUserDirectory(stack.env.USERS_FILE)
    report = await runAttackLab(
      attackLabConfigFrom(stack.env, {}, (username) => users.findByUsername(username)?.sub),
    )
  })
  after(() => stack?.close())

  const attempt = (id: string) => {
    const found = report.attempts.find((a) => a.id === id)
    assert.ok(found, `attempt ${id} ran`)
    return found
  }

  test('header forgery on the M2M + header path leaks alice’s todos', () => {
    const a = attempt('m2m-header-forgery')
    assert.equal(a.verdict, 'LEAKED')
    assert.equal(a.reachedUser, ALICE)
    const read = a.steps.at(-1)!
    assert.equal(read.response.status, 200)
    assert.equal(read.response.body.decidedBy, 'trusted-header')
    assert.deepEqual(read.response.body.todos, [{ title: "alice's secret plan", completed: false }])
  })

  test('every RFC 8693 attempt is blocked', () => {
    const rfc = report.attempts.filter((a) => a.path === 'rfc8693')
    assert.deepEqual(rfc.map((a) => a.id).sort(), [
      'rfc8693-delegation-vanish',
      'rfc8693-dpop-binding-stripping',
      'rfc8693-dpop-stolen-bound-token',
      'rfc8693-foreign-audience',
      'rfc8693-header-forgery',
      'rfc8693-non-object-act',
      'rfc8693-self-signed-subject',
      'rfc8693-stolen-token-no-secret',
      'rfc8693-tampered-subject',
    ])
    for (const a of rfc) assert.equal(a.verdict, 'BLOCKED', `${a.id}: ${a.reason}`)
    const header = attempt('rfc8693-header-forgery').steps.at(-1)!.response.body
    assert.equal(header.user, BOB, 'App B served the token’s user, not the header’s')
    assert.equal(header.decidedBy, 'token')
    assert.match(String(header.headerIgnored), /X-User-Sub ignored/)
    assert.equal(
      attempt('rfc8693-self-signed-subject').steps[0]!.response.body.error,
      'invalid_request',
    )
    assert.equal(
      attempt('rfc8693-tampered-subject').steps[0]!.response.body.error,
      'invalid_request',
    )
    assert.equal(
      attempt('rfc8693-foreign-audience').steps[0]!.response.body.error,
      'invalid_target',
    )
    assert.equal(attempt('rfc8693-stolen-token-no-secret').steps.length, 1, 'no token issued')
  })

  test('a stolen DPoP-bound token is worthless without its key, and its binding cannot be stripped', () => {
    const stolen = attempt('rfc8693-dpop-stolen-bound-token')
    const [exchange, legit, asBearer, ownKey] = stolen.steps
    assert.equal(exchange!.response.body.token_type, 'DPoP')
    assert.equal(legit!.response.status, 200, 'App A itself, with its key, is served')
    assert.equal(asBearer!.response.status, 401)
    assert.equal(asBearer!.response.body.error, 'invalid_token')
    assert.equal(asBearer!.response.body.todos, undefined)
    assert.equal(ownKey!.response.status, 401)
    assert.equal(ownKey!.response.body.error, 'invalid_dpop_proof')
    assert.equal(stolen.reachedUser, undefined)
    const stripping = attempt('rfc8693-dpop-binding-stripping')
    const last = stripping.steps.at(-1)!
    assert.equal(last.response.status, 400)
    assert.equal(last.response.body.error, 'invalid_dpop_proof')
    assert.equal(last.response.body.access_token, undefined, 'no unbound token minted')
    for (const step of [...stolen.steps, ...stripping.steps]) {
      assert.doesNotMatch(JSON.stringify(step.request), /eyJ[\w-]+\.eyJ/, 'no token in the record')
    }
  })

  test('a delegated token re-exchanged without an actor never comes back without act (Keycloak #52691)', () => {
    const a = attempt('rfc8693-delegation-vanish')
    const [control, read, ...reExchanges] = a.steps
    assert.equal(control!.response.status, 200, 'control: the delegation itself works')
    const issued = control!.tokens.find((t) => t.label === 'issued access_token')!.claims
    assert.equal((issued.act as { sub: string }).sub, 'app-a')
    assert.equal(read!.response.status, 200, 'control: App B serves the delegated token')
    assert.equal(reExchanges.length, 3)
    for (const step of reExchanges) {
      assert.equal(step.response.status, 400, JSON.stringify(step.response.body))
      assert.equal(step.response.body.access_token, undefined, 'no clean token minted')
    }
    assert.equal(a.verdict, 'BLOCKED', a.reason)
  })

  test('a subject token whose act is not an object is refused, never copied through (toolhive #6093)', () => {
    const a = attempt('rfc8693-non-object-act')
    const [control, read, ...forged] = a.steps
    assert.equal(control!.response.status, 200, 'control: the untouched token is exchanged')
    assert.equal(read!.response.status, 200)
    assert.equal(forged.length, 10)
    for (const step of forged) {
      assert.equal(step.response.status, 400, step.label)
      assert.equal(step.response.body.error, 'invalid_request')
      assert.equal(step.response.body.access_token, undefined)
    }
    assert.equal(a.verdict, 'BLOCKED', a.reason)
  })

  test('federation path: a user token alone (no client secret) becomes an App B token', () => {
    const a = attempt('federation-stolen-token-no-secret')
    assert.equal(a.verdict, 'LEAKED')
    assert.equal(a.reachedUser, BOB)
    assert.equal(a.steps[0]!.request.headers.authorization, undefined, 'no client authentication')
    const issued = a.steps[0]!.tokens.find((t) => t.label === 'issued access_token')!.claims
    assert.equal(issued.aud, 'app-b')
    assert.equal(issued.azp, 'app-b')
    assert.equal(issued.act, undefined)
    assert.equal(attempt('federation-forged-assertion').verdict, 'BLOCKED')
  })

  test('blast radius: header path every user, RFC 8693 only users whose tokens App A holds', () => {
    const radius = Object.fromEntries(report.blastRadius.map((r) => [r.path, r]))
    assert.equal(radius['m2m-header']!.reachesEveryUser, true)
    assert.deepEqual([...radius['m2m-header']!.reached].sort(), ['alice', 'bob'])
    assert.equal(radius.rfc8693!.reachesEveryUser, false)
    assert.deepEqual(radius.rfc8693!.reached, ['bob'])
    assert.equal(radius['jwt-federation']!.reachesEveryUser, false)
  })

  test('the matrix matches what the runs observed', () => {
    assert.deepEqual(
      report.matrix.map((row) => row.path),
      report.paths.map((path) => path.id),
    )
    for (const row of report.matrix) {
      const path = report.paths.find((p) => p.id === row.path)!
      assert.ok(path.ok, `${path.id} ran: ${path.error?.message}`)
      assert.equal(row.userBound, path.verdicts!.userBound.ok)
      assert.equal(row.actorRecorded, path.verdicts!.actorRecorded.ok)
      assert.equal(row.requesterAuthenticated, path.verdicts!.requesterAuthenticated.ok)
      assert.equal(row.rfc8693, path.tokenRequest!.grantType.endsWith('token-exchange'))
      const leakedVictim = report.attempts.some(
        (a) => a.path === row.path && a.verdict === 'LEAKED' && a.reachedUser === ALICE,
      )
      assert.equal(/every user/.test(row.compromisedAppAReaches), leakedVictim)
    }
    const byPath = Object.fromEntries(report.matrix.map((row) => [row.path, row]))
    assert.deepEqual(
      [
        byPath.rfc8693!.userBound,
        byPath.rfc8693!.actorRecorded,
        byPath.rfc8693!.requesterAuthenticated,
      ],
      [true, true, true],
    )
    assert.deepEqual(
      [
        byPath['jwt-federation']!.userBound,
        byPath['jwt-federation']!.actorRecorded,
        byPath['jwt-federation']!.requesterAuthenticated,
      ],
      [true, false, false],
    )
    assert.deepEqual(
      [
        byPath['m2m-header']!.userBound,
        byPath['m2m-header']!.actorRecorded,
        byPath['m2m-header']!.requesterAuthenticated,
      ],
      [false, false, true],
    )
    assert.match(byPath['jwt-federation']!.stolenUserTokenReaches, /no client secret/)
    assert.match(byPath.rfc8693!.stolenUserTokenReaches, /nothing without/)
  })

  test('the report never holds a raw token or the client secret', () => {
    const text = JSON.stringify(report)
    assert.doesNotMatch(text, JWT)
    assert.ok(!text.includes(stack.env.APP_A_CLIENT_SECRET))
    assert.match(formatMarkdown(report), /\| Path \| Grant type \| RFC 8693 \|/)
    assert.match(formatText(report), /Comparison matrix/)
  })

  test('onbehalf attack --json prints the same matrix for the running stack', async () => {
    const lines: string[] = []
    const original = console.log
    console.log = (line: string) => lines.push(line)
    let code: number
    try {
      code = await runAttackCommand([
        '--json',
        '--issuer',
        stack.idp.issuer,
        '--app-a',
        stack.env.APP_A_URL,
        '--app-b',
        stack.env.APP_B_URL,
      ])
    } finally {
      console.log = original
    }
    assert.equal(code, 0)
    const printed = JSON.parse(lines.join('\n')) as AttackReport
    const shape = (r: AttackReport) =>
      r.matrix.map(({ path, rfc8693, userBound, actorRecorded, requesterAuthenticated }) => ({
        path,
        rfc8693,
        userBound,
        actorRecorded,
        requesterAuthenticated,
      }))
    assert.deepEqual(shape(printed), shape(report))
    assert.deepEqual(
      printed.attempts.map((a) => [a.id, a.verdict]),
      report.attempts.map((a) => [a.id, a.verdict]),
    )
  })

  test('onbehalf attack with conflicting flags is a usage error', async () => {
    const original = console.error
    console.error = () => {}
    try {
      assert.equal(await runAttackCommand(['--json', '--markdown']), 2)
    } finally {
      console.error = original
    }
  })

  test('App A: the dashboard shows four path cards (incl. the STS) and /attack runs the lab (real login)', async () => {
    const browser = new TestBrowser()
    let page = await browser.navigate(`${stack.env.APP_A_URL}/auth/login`)
    page = await browser.submitForm(page, { username: 'bob', password: 'changeme' }, '/login')
    assert.equal(page.status, 200, page.url)
    const cards = [
      ...page.body.matchAll(/data-testid="path-card"\s+data-path="([^"]+)"\s+data-ok="([^"]+)"/g),
    ]
    assert.deepEqual(
      cards.map((m) => [m[1], m[2]]),
      [
        ['rfc8693', 'true'],
        ['rfc8693-sts', 'true'],
        ['jwt-federation', 'true'],
        ['m2m-header', 'true'],
      ],
    )
    assert.match(page.body, /class="badge badge-green" data-testid="path-badge">rfc8693/)
    assert.match(page.body, /class="badge badge-green" data-testid="path-badge">rfc8693-sts/)
    assert.match(page.body, /class="badge badge-yellow" data-testid="path-badge">jwt-federation/)
    assert.match(page.body, /class="badge badge-orange" data-testid="path-badge">m2m-header/)
    const verdicts = [
      ...page.body.matchAll(/data-testid="verdict-([a-z-]+)"\s+data-ok="(true|false)"/g),
    ].map((m) => `${m[1]}=${m[2]}`)
    assert.deepEqual(verdicts, [
      'user-bound=true',
      'actor-recorded=true',
      'requester-authenticated=true',
      'user-bound=true',
      'actor-recorded=true',
      'requester-authenticated=true',
      'user-bound=true',
      'actor-recorded=false',
      'requester-authenticated=false',
      'user-bound=false',
      'actor-recorded=false',
      'requester-authenticated=true',
    ])
    assert.match(page.body, /data-testid="method-badge"/, 'the RFC 8693 details stay')
    assert.doesNotMatch(page.body, JWT, 'no token in the page')

    page = await browser.navigate(`${stack.env.APP_A_URL}/attack`)
    assert.equal(page.status, 200)
    page = await browser.submitForm(page, {}, '/attack')
    assert.equal(page.status, 200)
    const verdictOf = (id: string) =>
      new RegExp(`data-attempt="${id}"\\s+data-verdict="(LEAKED|BLOCKED)"`).exec(page.body)?.[1]
    assert.equal(verdictOf('m2m-header-forgery'), 'LEAKED')
    assert.equal(verdictOf('federation-stolen-token-no-secret'), 'LEAKED')
    for (const id of [
      'rfc8693-header-forgery',
      'rfc8693-self-signed-subject',
      'rfc8693-tampered-subject',
      'rfc8693-foreign-audience',
      'rfc8693-stolen-token-no-secret',
    ]) {
      assert.equal(verdictOf(id), 'BLOCKED', id)
    }
    assert.match(page.body, /data-testid="matrix"/)
    assert.equal([...page.body.matchAll(/data-testid="matrix-row"/g)].length, 3)
    assert.match(page.body, /alice&#39;s secret plan/)
    assert.doesNotMatch(page.body, JWT, 'no token in the page')
    assert.ok(!page.body.includes(stack.env.APP_A_CLIENT_SECRET))
  })

  test('App A: POST /attack without the CSRF token is refused', async () => {
    const browser = new TestBrowser()
    const page = await browser.navigate(`${stack.env.APP_A_URL}/auth/login`)
    await browser.submitForm(page, { username: 'bob', password: 'changeme' }, '/login')
    const refused = await browser.request(`${stack.env.APP_A_URL}/attack`, {
      form: { _csrf: 'nope' },
    })
    assert.equal(refused.status, 403)
  })
})
