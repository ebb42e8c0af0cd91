/**
 * Keeps `npm run bench` working: runs its smoke version (every phase, 1 s runs) and checks the
 * JSON it writes — its shape, that every answer under load was a success, and that the
 * measurements are measurements (CPU read for the right process, distinct tokens, paced runs),
 * never how fast anything was, which belongs to the machine. With KEYCLOAK_URL set (CI starts a
 * Keycloak) the Keycloak row must be a real run: Keycloak's JVM found by its port, 100 subject
 * tokens from Keycloak logins, an exchanged token whose signature verified against the realm's
 * keys with the right aud/sub/azp; without it the row must be a skip with its reason. Not part of the unit suite
 * (`npm test`): it starts every service as a process and loads them with wrk, so it is its own
 * CI step, `npm run test:bench`, after `npm test`.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import type { BenchResult } from '../../bench/lib/report.js'
import type { LoadResult } from '../../bench/lib/wrk.js'

const run = promisify(execFile)
const KEYCLOAK_URL = process.env.KEYCLOAK_URL?.trim().replace(/\/+$/, '')

const isPositive = (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) && value > 0

function checkRun(what: string, load: LoadResult, floorUs: number, exchange: boolean): void {
  assert.ok(load.requests > 0, `${what}: served requests`)
  // Correctness, not speed: every answer under load was a success, and none failed to arrive.
  assert.equal(load.non2xx, 0, `${what}: non-2xx answers`)
  assert.equal(load.errors, 0, `${what}: socket errors`)
  assert.equal(load.timeouts, 0, `${what}: timeouts`)
  assert.ok(isPositive(load.requestsPerSecond), `${what}: req/s`)
  assert.ok(
    load.latencyMs.p50 > 0 && load.latencyMs.p50 <= load.latencyMs.p99,
    `${what}: p50 ≤ p99`,
  )
  assert.ok(isPositive(load.cpuSeconds), `${what}: CPU time read from /proc`)
  assert.ok(isPositive(load.cpuPerRequestUs), `${what}: CPU per request`)
  // An exchange verifies one ES256 signature and makes one: its CPU cannot be far under the
  // floor. Far under means the CPU of some other process (or none) was read.
  if (exchange) assert.ok(load.cpuPerRequestUs > floorUs / 2, `${what}: CPU per exchange ≥ ½ floor`)
}

test(
  'bench smoke run writes every phase, CPU per request, the crypto floor and the targets',
  // About 45 s on a busy 2-core machine: it starts six processes, logs in 100 times, loads each;
  // about 40 s more with a Keycloak (a realm imported, logins there, its phase) and 10 s for npm start.
  { timeout: 300_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'onbehalf-bench-smoke-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const out = join(dir, 'result.json')

    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', out],
      { timeout: 290_000, maxBuffer: 4 * 1024 * 1024, env: { ...process.env } },
    )
    assert.match(stdout, /^targets$/m)
    assert.match(stdout, /(PASS|FAIL)\s+STS CPU per exchange ÷ crypto floor/)
    if (KEYCLOAK_URL) assert.match(stdout, /checked before the load: ES256 .*signature verified/)
    else assert.match(stdout, /Keycloak.*skipped: KEYCLOAK_URL is not set/)

    const result = JSON.parse(readFileSync(out, 'utf8')) as BenchResult
    assert.equal(result.schema, 'onbehalf-bench/2')
    assert.equal(result.settings.mode, 'smoke')
    assert.match(result.settings.loadGenerator, /^wrk /)
    assert.ok(result.machine.cpuModel.length > 0)
    assert.ok(result.machine.cores >= 1)
    assert.equal(result.machine.node, process.version)
    assert.ok(result.settings.subjectTokens >= 100)

    for (const field of ['verifyPerSecond', 'signPerSecond', 'floorUs'] as const) {
      assert.ok(isPositive(result.crypto[field]), `crypto.${field}`)
    }
    const floorUs = result.crypto.floorUs
    assert.ok(result.freshVerify, 'fresh verify measured')
    assert.ok(result.freshVerify.tokens >= 100)
    assert.ok(isPositive(result.freshVerify.verifierUs) && isPositive(result.freshVerify.ratio))

    assert.deepEqual(
      result.phases.map((phase) => phase.id),
      ['baseline', 'idp', 'sts', 'app-b', 'app-b-fresh', 'keycloak'],
    )
    for (const phase of result.phases) {
      if (phase.id === 'keycloak' && !KEYCLOAK_URL) {
        // No Keycloak here: the row is there, skipped, and says why; it is never faked.
        assert.equal(phase.available, false)
        assert.match(phase.reason ?? '', /KEYCLOAK_URL is not set/)
        assert.equal(phase.runs.length, 0)
        assert.equal(phase.keycloak, undefined)
        continue
      }
      if (phase.id === 'keycloak') {
        // A real Keycloak answered: its JVM was measured and its token is Keycloak's own.
        assert.equal(phase.available, true, phase.reason)
        assert.ok(phase.keycloak, 'keycloak details')
        const { verification, process: jvm } = phase.keycloak
        assert.equal(jvm.command, 'java', 'the process measured is the JVM')
        assert.ok(phase.process.includes(`pid ${jvm.pid}`))
        assert.equal(verification.signatureVerified, true)
        assert.equal(verification.issuer, `${KEYCLOAK_URL}/realms/${phase.keycloak.realm}`)
        assert.ok(verification.aud.includes('app-b'), `aud ${verification.aud.join(',')}`)
        assert.equal(verification.sub, verification.demoUserId, 'sub is the user who logged in')
        assert.match(verification.sub, /^[0-9a-f-]{36}$/, "Keycloak's user id")
        assert.equal(verification.azp, 'app-a')
        assert.equal(verification.act, null)
        assert.doesNotMatch(JSON.stringify(phase.keycloak.process.environment), /PASSWORD/)
        assert.ok(phase.keycloak.idleCpuMsPerSecond >= 0, 'idle CPU read')
      }
      assert.equal(phase.available, true, `${phase.id}: ${phase.reason}`)
      assert.equal(phase.runs.length, result.settings.connections.length, phase.id)
      assert.ok(phase.peak, `${phase.id}: peak`)
      assert.ok(isPositive(phase.peakRssBytes), `${phase.id}: RSS`)
      const exchange = phase.id === 'idp' || phase.id === 'sts' || phase.id === 'keycloak'
      for (const load of phase.runs) checkRun(phase.id, load, floorUs, exchange)
      if (exchange || phase.id.startsWith('app-b'))
        assert.ok(phase.distinctTokens >= 100, `${phase.id}: distinct tokens`)
      if (exchange) {
        assert.ok(phase.paced, `${phase.id}: paced run`)
        checkRun(`${phase.id} paced`, phase.paced, floorUs, true)
        assert.ok(
          phase.paced.pacedRate !== null &&
            Math.abs(phase.paced.pacedRate - phase.peak.requestsPerSecond / 2) <= 1,
          `${phase.id}: paced at half the peak`,
        )
        assert.equal(phase.paced.connections, result.settings.pacedConnections)
      }
    }
    assert.equal(result.phases.find((p) => p.id === 'sts')?.process.includes('compiled'), true)

    // npm start's time to ready: measured by starting it, the line printed before every service
    // answered, and the parts beside it.
    assert.ok(result.startup, 'npm start measured')
    assert.equal(result.startup.runs.length, result.settings.startRuns)
    for (const sample of result.startup.runs) {
      assert.ok(isPositive(sample.lineMs) && sample.lineMs <= sample.readyMs)
    }
    for (const field of ['medianReadyMs', 'firstStartMs', 'buildStepMs', 'withoutNpmMs'] as const)
      assert.ok(isPositive(result.startup[field]), `startup.${field}`)

    assert.ok(result.onBehalf)
    for (const variant of ['direct', 'hit', 'miss'] as const) {
      assert.ok(result.onBehalf[variant].calls > 0, `onBehalf.${variant}`)
      assert.ok(isPositive(result.onBehalf[variant].p50Ms))
    }

    assert.deepEqual(
      result.targets.map((target) => target.id),
      [
        'sts.cpu_vs_floor',
        'sts.cpu_vs_baseline',
        'idp.cpu_vs_baseline',
        'sts.p99_paced',
        'idp.p99_paced',
        'sts.rss',
        'app_b.fresh_verify',
        'keycloak.cpu_vs_sts',
        'start.ready',
        'on_behalf.cached_added_p50',
      ],
    )
    for (const target of result.targets) {
      const expected =
        target.id === 'keycloak.cpu_vs_sts' && !KEYCLOAK_URL ? ['n/a'] : ['pass', 'fail']
      assert.ok(expected.includes(target.status), `${target.id}: ${target.status}`)
      assert.ok(
        target.status === 'n/a' ? target.value === null : typeof target.value === 'number',
        target.id,
      )
    }
  },
)
