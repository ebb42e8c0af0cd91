/**
 * Micro-benchmark of the embedded IdP's storage work per token exchange (issue 18,
 * docs/performance.md): the subject token's liveness check (`isActive`: its issued-token record
 * and its grant) and the record of the token issued (`record`), on the real SQLite adapter in a
 * temporary folder, 100 distinct grants and subject tokens in turn, `--concurrency` exchanges in
 * flight (as under HTTP load), each awaiting its record as the IdP does before it answers. CPU time
 * of this thread per exchange, median of rounds.
 *
 *   node --import tsx bench/idp_storage.ts [--rounds 5] [--ms 1000] [--concurrency 10]
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createIssuedTokenRegistry } from '../src/idp/issued_tokens.js'
import { openOidcStorage } from '../src/idp/sqlite_adapter.js'
import { cpuMs } from './lib/crypto_bound.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    ms: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '10' },
  },
})
const dir = mkdtempSync(join(tmpdir(), 'onbehalf-storage-bench-'))
try {
  const storage = openOidcStorage(join(dir, 'idp.sqlite'))
  const registry = createIssuedTokenRegistry(storage)
  const grants = new storage.Adapter('Grant')
  const now = Math.floor(Date.now() / 1000)
  const subjects = await Promise.all(
    Array.from({ length: 100 }, async () => {
      const grantId = randomUUID()
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
      const jti = randomUUID()
      await registry.record({ jti, grantId, clientId: 'app-a', sub: 'user-demo', exp: now + 600 })
      return { jti, grantId }
    }),
  )
  let next = 0
  const exchange = async () => {
    const subject = subjects[next++ % subjects.length]!
    if (!(await registry.isActive(subject.jti))) throw new Error('subject token not active')
    await registry.record({
      jti: randomUUID(),
      grantId: subject.grantId,
      clientId: 'app-a',
      sub: 'user-demo',
      exp: now + 300,
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
  await exchanges(500)
  const rounds: number[] = []
  for (let r = 0; r < Number(values.rounds); r++) {
    const started = cpuMs()
    let count = 0
    while (cpuMs() - started < Number(values.ms)) {
      await exchanges(100)
      count += 100
    }
    rounds.push(((cpuMs() - started) * 1000) / count)
  }
  const median = [...rounds].sort((a, b) => a - b)[Math.floor(rounds.length / 2)]!
  console.log(
    `IdP storage per exchange (isActive + record, ${concurrency} in flight), ${rounds.length} rounds × ${values.ms} ms CPU: median ${median.toFixed(1)} µs (rounds: ${rounds.map((r) => r.toFixed(1)).join(', ')})`,
  )
  await storage.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
