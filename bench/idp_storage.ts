/**
 * Micro-benchmark of the embedded IdP's storage work per token exchange (issue 18,
 * docs/performance.md): the subject token's liveness check (`isActive`: its issued-token record
 * and its grant) and the IdP minter's record of the token issued (createIdpMinter with a signer
 * that does not sign: only its storage work is left), each exchange awaiting its record as the IdP
 * does before it answers, `--concurrency` in flight (as under HTTP load).
 *
 * Shaped like a long run, not a fresh file: `--prefill` issued-token records (default 200k) over
 * 2000 login grants are stored first, so the B-trees are as deep as after hours of traffic, every
 * exchange takes a random one of them as its subject (reads hit cold pages, not the same 100), and
 * each round writes thousands of rows, so the WAL grows through checkpoints as it does under load.
 * CPU time of this thread per exchange, median of rounds.
 *
 *   node --import tsx bench/idp_storage.ts [--rounds 5] [--ms 1000] [--concurrency 10]
 *     [--prefill 200000] [--postgres postgres://postgres@127.0.0.1:5432/test]
 *
 * With `--postgres` the storage is PostgreSQL in a schema of its own (dropped afterwards); the CPU
 * is still only this process's (the server's is not counted).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { createIssuedTokenRegistry } from '../src/idp/issued_tokens.js'
import { createIdpMinter } from '../src/idp/minter.js'
import type { OidcStorage } from '../src/idp/oidc_storage.js'
import { openPostgresOidcStorage } from '../src/idp/postgres_adapter.js'
import { openOidcStorage } from '../src/idp/sqlite_adapter.js'
import type { JwsSigner } from '../src/jws/sign_jws.js'
import { openPostgresPool } from '../src/storage/postgres.js'
import { cpuMs } from './lib/crypto_bound.js'

/**
 * CPU time of the main thread alone (the event loop's, where requests are served), from Linux's
 * per-thread accounting (10 ms ticks); undefined elsewhere. cpuMs counts every thread.
 */
function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime, fields 14 and 15 of stat(5), counted from the state field (3).
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    ms: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '10' },
    prefill: { type: 'string', default: '200000' },
    postgres: { type: 'string' },
  },
})

/** Storage for the run and how to throw it away afterwards. */
async function openStorage(): Promise<{ storage: OidcStorage; discard: () => Promise<void> }> {
  if (values.postgres === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'onbehalf-storage-bench-'))
    const storage = openOidcStorage(join(dir, 'idp.sqlite'))
    return {
      storage,
      discard: async () => {
        await storage.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  const schema = `onbehalf_bench_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: values.postgres })
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)
  const url = new URL(values.postgres)
  url.searchParams.set('options', `-c search_path=${schema}`)
  const storage = await openPostgresOidcStorage(
    openPostgresPool(url.toString(), { name: 'bench' }),
    { ownsPool: true },
  )
  return {
    storage,
    discard: async () => {
      await storage.close()
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
      await admin.end()
    },
  }
}

const { storage, discard } = await openStorage()
try {
  const registry = createIssuedTokenRegistry(storage)
  // Only the minter's storage work is measured: the signature is the crypto bound's business.
  const signer: JwsSigner = { alg: 'ES256', kid: 'bench', sign: () => 'header.payload.signature' }
  const minter = createIdpMinter(() => signer, registry)
  const grants = new storage.Adapter('Grant')
  const now = Math.floor(Date.now() / 1000)
  const grantIds = Array.from({ length: 2000 }, () => randomUUID())
  for (const grantId of grantIds) {
    // Shaped like oidc-provider's Grant payload for App A's login.
    await grants.upsert(
      grantId,
      {
        iat: now,
        exp: now + 3600,
        accountId: 'user-demo',
        clientId: 'app-a',
        kind: 'Grant',
        jti: grantId,
        openid: { scope: 'openid profile email offline_access' },
        resources: { 'http://127.0.0.1:3002': 'todos:read' },
        rejected: {},
      },
      3600,
    )
  }
  const prefill = Number(values.prefill)
  const subjects: string[] = []
  const filledAt = performance.now()
  for (let at = 0; at < prefill; at += 1000) {
    const batch = Array.from({ length: Math.min(1000, prefill - at) }, (_, i) => {
      const jti = randomUUID()
      subjects.push(jti)
      return registry.record({
        jti,
        grantId: grantIds[(at + i) % grantIds.length],
        clientId: 'app-a',
        sub: 'user-demo',
        exp: now + 3600,
      })
    })
    await Promise.all(batch)
  }
  const fillSeconds = (performance.now() - filledAt) / 1000
  const exchange = async () => {
    const subject = subjects[Math.floor(Math.random() * subjects.length)]!
    if (!(await registry.isActive(subject))) throw new Error('subject token not active')
    await minter.mint({
      claims: {
        iss: 'http://127.0.0.1:3000',
        sub: 'user-demo',
        aud: 'http://127.0.0.1:3002',
        client_id: 'app-b',
        azp: 'app-b',
        scope: 'todos:read',
        iat: now,
        exp: now + 300,
        jti: randomUUID(),
      },
      derivedFromJti: subject,
    })
  }
  const concurrency = Number(values.concurrency)
  // `count` exchanges, `concurrency` at a time.
  const exchanges = async (count: number) => {
    let started = 0
    const lane = async () => {
      while (started++ < count) await exchange()
    }
    await Promise.all(Array.from({ length: concurrency }, lane))
  }
  await exchanges(2000)
  const rounds: number[] = []
  const mainRounds: number[] = []
  for (let r = 0; r < Number(values.rounds); r++) {
    const started = cpuMs()
    const mainStarted = mainThreadCpuMs()
    let count = 0
    while (cpuMs() - started < Number(values.ms)) {
      await exchanges(100)
      count += 100
    }
    rounds.push(((cpuMs() - started) * 1000) / count)
    const mainEnded = mainThreadCpuMs()
    if (mainStarted !== undefined && mainEnded !== undefined)
      mainRounds.push(((mainEnded - mainStarted) * 1000) / count)
  }
  const median = (values: readonly number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const list = (values: readonly number[]) => values.map((r) => r.toFixed(1)).join(', ')
  console.log(
    `IdP storage (${storage.kind}) per exchange (isActive + minter's record, ${concurrency} in flight, ${prefill} records prefilled in ${fillSeconds.toFixed(1)} s), ${rounds.length} rounds × ${values.ms} ms CPU: median ${median(rounds).toFixed(1)} µs (rounds: ${list(rounds)})` +
      (mainRounds.length === 0
        ? ''
        : `; main thread alone: median ${median(mainRounds).toFixed(1)} µs (rounds: ${list(mainRounds)})`),
  )
} finally {
  await discard()
}
