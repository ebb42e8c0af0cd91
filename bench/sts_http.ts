/**
 * A/B of the STS's HTTP layer (issue 18, docs/performance.md): two STS instances in this one
 * process, built by `buildSts` from the same config — A with `tokenFastPath: false` (every
 * `POST /token` through Fastify's route), B with the lean path (src/sts/token_fast_path.ts) —
 * loaded in turn by wrk (one thread, 10 connections, 100 distinct subject tokens), short
 * windows alternated A, B, A, B … so the other work on a shared machine lands on both alike.
 * CPU per answered request is this process's utime+stime over the window ÷ 2xx answers; the
 * crypto floor (one ES256 verify + one sign, node:crypto) is measured in the same process.
 *
 *   node --import tsx bench/sts_http.ts [--rounds 6] [--seconds 3] [--connections 10]
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { mkdtempSync, openSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { createJwsSigner } from '../src/jws/sign_jws.js'
import { createLogger } from '../src/log/logger.js'
import { buildSts } from '../src/sts/app.js'
import { parseStsConfig } from '../src/sts/config.js'
import { measureCryptoBound } from './lib/crypto_bound.js'
import { checkWrk, runLoad, type HttpRequest } from './lib/wrk.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
  },
})
const UPSTREAM = 'http://127.0.0.1:9/upstream'
const JWKS = `${UPSTREAM}/jwks`
const SECRET = 'bench-secret-bench-secret-bench-secret'

await checkWrk()
const upstreamKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const upstreamJwk = { ...upstreamKeys.publicKey.export({ format: 'jwk' }), kid: 'up', alg: 'ES256' }
const upstreamSigner = createJwsSigner({
  alg: 'ES256',
  kid: 'up',
  privateKey: upstreamKeys.privateKey,
})
// The upstream's JWKS, answered in memory (the STS's `fetch` seam): no third server on the cores.
const upstreamFetch = (async (url: string | URL) =>
  String(url) === JWKS
    ? new Response(JSON.stringify({ keys: [upstreamJwk] }), {
        headers: { 'content-type': 'application/json' },
      })
    : new Response('not found', { status: 404 })) as typeof fetch

const keyDir = mkdtempSync(join(tmpdir(), 'onbehalf-sts-http-'))
const logger = createLogger(
  { level: 'info', name: 'onbehalf' },
  pino.destination({ fd: openSync('/dev/null', 'w'), sync: true }),
)

async function start(tokenFastPath: boolean) {
  const socketUrl = 'http://127.0.0.1'
  const config = parseStsConfig(
    {
      issuer: socketUrl,
      tokenRequestsPerMinutePerIp: 0,
      keys: { directory: keyDir },
      upstreams: { idp: { issuer: UPSTREAM, jwksUri: JWKS, algorithms: ['ES256'] } },
      targets: { 'app-b': { resourceUris: ['http://127.0.0.1:9/app-b'], scopes: ['todos:read'] } },
      clients: {
        'app-a': {
          secretEnv: 'APP_A_CLIENT_SECRET',
          tokenExchange: {
            enabled: true,
            allowedAudiences: ['app-b'],
            scopeCeiling: ['todos:read'],
          },
        },
      },
    },
    { APP_A_CLIENT_SECRET: SECRET },
    'bench',
  )
  const app = await buildSts(config, { logger, fetch: upstreamFetch, tokenFastPath })
  return { app, url: await app.listen({ host: '127.0.0.1', port: 0 }) }
}

const now = Math.floor(Date.now() / 1000)
const subjectTokens = Array.from({ length: 100 }, () =>
  upstreamSigner.sign(
    { typ: 'at+jwt' },
    {
      iss: UPSTREAM,
      sub: 'user-demo',
      aud: 'app-a',
      client_id: 'app-a',
      scope: 'openid todos:read',
      iat: now,
      exp: now + 3600,
      jti: randomUUID(),
    },
  ),
)
const requests: HttpRequest[] = subjectTokens.map((token) => ({
  method: 'POST',
  path: '/token',
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Basic ${Buffer.from(`app-a:${SECRET}`).toString('base64')}`,
  },
  body: new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    audience: 'app-b',
    scope: 'todos:read',
  }).toString(),
}))

const fastify = await start(false)
const lean = await start(true)
for (const side of [fastify, lean]) {
  const answer = await fetch(`${side.url}/token`, {
    method: 'POST',
    headers: requests[0]!.headers,
    body: requests[0]!.body,
  })
  if (answer.status !== 200) throw new Error(`warm-up exchange answered ${answer.status}`)
}
const loadBefore = loadavg()[0]!
const floor = measureCryptoBound({
  subjectToken: subjectTokens[0]!,
  subjectKey: upstreamKeys.publicKey,
  issuedClaims: { iss: 'http://127.0.0.1', sub: 'user-demo', aud: 'app-b', jti: randomUUID() },
  durationMs: 2000,
})
const rounds = Number(values.rounds)
const seconds = Number(values.seconds)
const connections = Number(values.connections)
const cpu = { fastify: [] as number[], lean: [] as number[] }
const rps = { fastify: [] as number[], lean: [] as number[] }
for (let round = 0; round < rounds; round++) {
  // Alternate which goes first, so neither always follows the other.
  const order = round % 2 === 0 ? (['fastify', 'lean'] as const) : (['lean', 'fastify'] as const)
  for (const name of order) {
    const side = name === 'fastify' ? fastify : lean
    const result = await runLoad({
      baseUrl: side.url,
      requests,
      connections,
      durationSeconds: seconds,
      pid: process.pid,
    })
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: non-2xx answers`)
    cpu[name].push(result.cpuPerRequestUs)
    rps[name].push(result.requestsPerSecond)
  }
}
await fastify.app.close()
await lean.app.close()
rmSync(keyDir, { recursive: true, force: true })

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const floorUs = floor.floorUs
const line = (name: 'fastify' | 'lean') =>
  `${name === 'fastify' ? 'A Fastify route' : 'B lean path   '}  CPU/request median ${median(cpu[name]).toFixed(0)} µs (${(median(cpu[name]) / floorUs).toFixed(2)}× floor; runs ${cpu[name].map((x) => x.toFixed(0)).join(', ')})  req/s median ${median(rps[name]).toFixed(0)}`
console.log(
  `STS HTTP A/B, one process, ${rounds} × ${seconds} s per side, ${connections} connections, 100 tokens; load average ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
)
console.log(`crypto floor (ES256 verify + sign): ${floorUs.toFixed(1)} µs`)
console.log(line('fastify'))
console.log(line('lean'))
console.log(
  `B − A: ${(median(cpu.lean) - median(cpu.fastify)).toFixed(0)} µs per request (${(((median(cpu.lean) - median(cpu.fastify)) / median(cpu.fastify)) * 100).toFixed(1)} %)`,
)
