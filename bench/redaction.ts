/**
 * Micro-benchmark of log redaction (issue 8, docs/performance.md): what one hot-path log line costs
 * with the redaction onbehalf used before (65 pino redact paths: 13 field names × top level,
 * `*.x`, `*.*.x`, `req.headers.x`, `res.headers["x"]`), with `createLogger` now (literal top-level
 * paths + the `censorNestedFields` hook), with pino redact on the new rules (`redactPaths`), and
 * with no redaction at all, all in one run on one thread, next to an ES256 sign and verify.
 *
 * The lines are the hot path's: the STS's audit line per exchange, and per App B call Fastify's
 * per-request child logger (`reqId`), its two request lines and the service audit line. Lines go
 * to a no-op stream, so only the logging CPU is measured. Variants run in interleaved rounds; the
 * median round is reported.
 *
 *   node --import tsx bench/redaction.ts [--rounds 7] [--ms 300]
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { parseArgs } from 'node:util'
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import { createLogger, redactPaths, SENSITIVE_FIELDS, CENSOR } from '../src/log/logger.js'
import { requestLogSerializer } from '../src/log/request_serializer.js'

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, ms: { type: 'string', default: '300' } },
})
const ROUNDS = Number(values.rounds)
const ROUND_MS = Number(values.ms)

/** The configuration before this change, reconstructed: 65 paths. */
const PREVIOUS_PATHS = SENSITIVE_FIELDS.flatMap((field) => [
  field,
  `*.${field}`,
  `*.*.${field}`,
  `req.headers.${field}`,
  `res.headers["${field}"]`,
])

const sink: DestinationStream = { write: () => {} }

const variants: Record<string, () => Logger> = {
  'before: pino redact, 65 paths': () =>
    pino({ level: 'info', redact: { paths: PREVIOUS_PATHS, censor: CENSOR } }, sink),
  'after: createLogger': () => createLogger({ level: 'info' }, sink),
  [`pino redact, redactPaths (${redactPaths.length})`]: () =>
    pino({ level: 'info', redact: { paths: redactPaths, censor: CENSOR } }, sink),
  'no redaction (floor)': () => pino({ level: 'info' } satisfies LoggerOptions, sink),
}

const auditEvent = {
  event: 'token_exchange',
  outcome: 'issued',
  clientId: 'app-a',
  subjectSub: 'user-alice',
  subjectJti: '5f0c2a1e-0d7b-4c55-9a3e-2f1f3c0e9b11',
  audience: 'app-b',
  scopes: ['todos:read'],
  issuedJti: '0b8f8f4e-1a52-4a4e-8d6b-7d1c9c2f7a33',
}

const fakeRequest = {
  method: 'GET',
  url: '/api/todos/count',
  host: '127.0.0.1:9200',
  ip: '127.0.0.1',
  socket: { remotePort: 51234 },
}

/** The STS: one audit line per exchange. */
function stsLine(logger: Logger): () => void {
  const component = logger.child({ component: 'sts' })
  return () => component.info({ audit: auditEvent, component: 'sts' }, 'token exchange issued')
}

/** App B: Fastify's per-request child, its two request lines, and the service audit line. */
function appBCall(logger: Logger): () => void {
  const service = logger.child(
    { component: 'app-b' },
    { serializers: { req: requestLogSerializer as never } },
  )
  let id = 0
  return () => {
    const log = service.child({ reqId: `req-${(id++).toString(36)}` })
    log.info({ req: fakeRequest }, 'incoming request')
    log.info(
      {
        audit: {
          event: 'app-b.service_api',
          method: 'GET',
          route: '/api/todos/count',
          status: 200,
          outcome: 'allowed',
          caller: 'app-a',
          clientId: 'app-a',
          actorChain: ['app-a'],
          sub: 'user-alice',
          jti: auditEvent.issuedJti,
          decidedBy: 'token',
        },
      },
      'service api call allowed',
    )
    log.info({ res: { statusCode: 200 }, responseTime: 0.42 }, 'request completed')
  }
}

/** Nanoseconds per call of `operation`, over about `ms` milliseconds. */
function nsPerOp(operation: () => void, ms: number): number {
  for (let i = 0; i < 500; i++) operation()
  const started = process.hrtime.bigint()
  const budget = BigInt(ms) * 1_000_000n
  let count = 0
  let elapsed = 0n
  while (elapsed < budget) {
    for (let i = 0; i < 200; i++) operation()
    count += 200
    elapsed = process.hrtime.bigint() - started
  }
  return Number(elapsed) / count
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const scenarios = { 'STS audit line': stsLine, 'App B call (3 lines)': appBCall }
const results = new Map<string, Map<string, number[]>>()
for (const scenario of Object.keys(scenarios)) {
  results.set(scenario, new Map(Object.keys(variants).map((v) => [v, []])))
}

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const signingInput = Buffer.from('x'.repeat(420))
const signature = sign('sha256', signingInput, { key: privateKey, dsaEncoding: 'ieee-p1363' })
const cryptoNs = { sign: [] as number[], verify: [] as number[] }

for (let round = 0; round < ROUNDS; round++) {
  for (const [scenario, build] of Object.entries(scenarios)) {
    for (const [variant, makeLogger] of Object.entries(variants)) {
      results
        .get(scenario)!
        .get(variant)!
        .push(nsPerOp(build(makeLogger()), ROUND_MS))
    }
  }
  cryptoNs.sign.push(
    nsPerOp(
      () => sign('sha256', signingInput, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
      ROUND_MS,
    ),
  )
  cryptoNs.verify.push(
    nsPerOp(
      () =>
        verify('sha256', signingInput, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature),
      ROUND_MS,
    ),
  )
}

const us = (ns: number) => (ns / 1000).toFixed(2).padStart(8)
console.log(`log redaction, ${ROUNDS} rounds × ${ROUND_MS} ms, median; node ${process.version}`)
console.log(
  `ES256 sign ${us(median(cryptoNs.sign))} µs, verify ${us(median(cryptoNs.verify))} µs (node:crypto, one thread)\n`,
)
const json: Record<string, Record<string, number>> = {}
for (const [scenario, byVariant] of results) {
  const before = median(byVariant.get('before: pino redact, 65 paths')!)
  console.log(scenario)
  json[scenario] = {}
  for (const [variant, samples] of byVariant) {
    const ns = median(samples)
    json[scenario][variant] = Math.round(ns)
    console.log(
      `  ${variant.padEnd(34)} ${us(ns)} µs  ${Math.round(1e9 / ns)
        .toLocaleString('en-US')
        .padStart(9)}/s  ${(before / ns).toFixed(1).padStart(5)}× vs before`,
    )
  }
}
console.log(
  `\n${JSON.stringify({ nsPerOp: json, es256: { signNs: Math.round(median(cryptoNs.sign)), verifyNs: Math.round(median(cryptoNs.verify)) } })}`,
)
