/**
 * Keeps `npm run bench` working: runs its smoke version (every phase, tiny durations) and checks
 * the shape of the JSON it writes — never the numbers, which belong to the machine. Not part of
 * the unit suite (`npm test`): it starts every service as a process and loads them, so it is its
 * own CI step, `npm run test:bench`, after `npm test`.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import type { BenchResult } from '../../bench/lib/report.js'

const run = promisify(execFile)

const isCount = (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0

test(
  'bench smoke run writes a result with every phase, the crypto bound and the targets',
  // Generous: about 15 s on an idle machine, but it starts five processes and loads each.
  { timeout: 300_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'onbehalf-bench-smoke-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const out = join(dir, 'result.json')

    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', out],
      {
        timeout: 290_000,
        maxBuffer: 4 * 1024 * 1024,
      },
    )
    assert.match(stdout, /^targets$/m)
    assert.match(stdout, /(PASS|FAIL|n\/a)\s+STS exchanges\/s/)
    assert.match(stdout, /token cache off/)

    const result = JSON.parse(readFileSync(out, 'utf8')) as BenchResult
    assert.equal(result.schema, 'onbehalf-bench/1')
    assert.equal(result.settings.mode, 'smoke')
    assert.ok(result.machine.cpuModel.length > 0)
    assert.ok(result.machine.cores >= 1)
    assert.equal(result.machine.node, process.version)

    for (const field of ['verifyPerSecond', 'signPerSecond', 'pairsPerSecond'] as const) {
      assert.ok(result.crypto[field] > 0, `crypto.${field}`)
    }

    assert.deepEqual(
      result.phases.map((phase) => phase.id),
      ['baseline', 'idp', 'sts', 'app-b'],
    )
    for (const phase of result.phases) {
      if (!phase.available) {
        // Only the STS may be missing (issue 6), and then it says why.
        assert.equal(phase.id, 'sts')
        assert.match(phase.reason ?? '', /STS not available/)
        continue
      }
      assert.equal(phase.runs.length, result.settings.connections.length, phase.id)
      for (const run of [...phase.runs, ...(phase.halfPeak ? [phase.halfPeak] : [])]) {
        assert.ok(run.requests > 0, `${phase.id}: served requests`)
        assert.ok(
          isCount(run.requestsPerSecond) &&
            isCount(run.latencyMs.p50) &&
            isCount(run.latencyMs.p99),
        )
        // Correctness, not speed: every answer under load was a success.
        assert.equal(run.non2xx, 0, `${phase.id}: non-2xx answers`)
        assert.equal(run.errors, 0, `${phase.id}: errors`)
      }
      assert.ok(phase.peak, `${phase.id}: peak`)
      if (phase.id === 'app-b') {
        // App B runs twice: verified-token cache on (the judged run) and off (full verification).
        assert.equal(phase.verifiedTokenCache, 'on')
        assert.equal(phase.uncached?.verifiedTokenCache, 'off')
        assert.equal(phase.uncached.runs.length, result.settings.connections.length)
        for (const run of phase.uncached.runs) {
          assert.ok(run.requests > 0, 'app-b uncached: served requests')
          assert.equal(run.non2xx, 0, 'app-b uncached: non-2xx answers')
          assert.equal(run.errors, 0, 'app-b uncached: errors')
        }
        assert.ok(phase.uncached.peak, 'app-b uncached: peak')
      }
      if (phase.id === 'idp' || phase.id === 'sts')
        assert.ok(phase.halfPeak, `${phase.id}: half-peak run`)
    }

    assert.ok(result.onBehalf)
    for (const variant of ['direct', 'hit', 'miss'] as const) {
      assert.ok(result.onBehalf[variant].calls > 0, `onBehalf.${variant}`)
      assert.ok(isCount(result.onBehalf[variant].p50Ms))
    }

    assert.deepEqual(
      result.targets.map((target) => target.id),
      [
        'sts.vs_baseline',
        'sts.vs_crypto_bound',
        'sts.p99_at_half_peak',
        'sts.rss',
        'app_b.verified_rps',
        'on_behalf.cached_added_p50',
      ],
    )
    for (const target of result.targets) {
      assert.ok(['pass', 'fail', 'n/a'].includes(target.status), target.id)
      assert.ok(
        target.status === 'n/a' ? target.value === null : typeof target.value === 'number',
        target.id,
      )
    }
  },
)
