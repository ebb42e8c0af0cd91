/**
 * Micro-benchmark of the STS's exchange without HTTP (issue 18, docs/performance.md): the engine
 * as src/sts/app.ts wires it (client authentication, the RFC 8693 grant under the audited runner,
 * the node:crypto JWS verifier and signer, one audit line through our pino logger to /dev/null)
 * on 100 distinct subject tokens, against the crypto floor of the same work (one bare ES256
 * verify of the same tokens + one bare ES256 sign). CPU time of this thread, median of rounds,
 * the two measured in alternation; `engine − floor` is what the exchange adds to its cryptography.
 *
 *   node --import tsx bench/sts_engine.ts [--rounds 5] [--ms 1000]
 */
import { generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto'
import { openSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import {
  createClientAuthenticator,
  createGrantRunner,
  createJwsMinter,
  createJwsVerifier,
  type GrantParams,
} from '../src/exchange/index.js'
import { createTokenExchangeGrant } from '../src/exchange/token_exchange/grant.js'
import { createJwsSigner } from '../src/jws/sign_jws.js'
import { createLogger } from '../src/log/logger.js'
import { parseStsConfig } from '../src/sts/config.js'
import { cpuMs } from './lib/crypto_bound.js'

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, ms: { type: 'string', default: '1000' } },
})
const UPSTREAM = 'http://127.0.0.1:9/upstream'
const STS = 'http://127.0.0.1:9/sts'
const APP_B = 'http://127.0.0.1:9/app-b'
const SECRET = 'bench-secret-bench-secret-bench-secret'

const config = parseStsConfig(
  {
    issuer: STS,
    tokenRequestsPerMinutePerIp: 0,
    keys: { directory: '/nonexistent' },
    upstreams: { idp: { issuer: UPSTREAM, algorithms: ['ES256'] } },
    targets: { 'app-b': { resourceUris: [APP_B], scopes: ['todos:read', 'todos:write'] } },
    clients: {
      'app-a': {
        secretEnv: 'APP_A_CLIENT_SECRET',
        tokenExchange: {
          enabled: true,
          allowedAudiences: ['app-b'],
          scopeCeiling: ['todos:read'],
          mode: 'delegation',
          maxLifetimeSeconds: 300,
        },
      },
    },
  },
  { APP_A_CLIENT_SECRET: SECRET },
)

const upstreamKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const upstreamSigner = createJwsSigner({
  alg: 'ES256',
  kid: 'upstream',
  privateKey: upstreamKeys.privateKey,
})
const stsSigner = createJwsSigner({
  alg: 'ES256',
  kid: 'sts',
  privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
})
const now = Math.floor(Date.now() / 1000)
// Shaped like the embedded IdP's access tokens for App A (RFC 9068).
const subjectTokens = Array.from({ length: 100 }, () =>
  upstreamSigner.sign(
    { typ: 'at+jwt' },
    {
      iss: UPSTREAM,
      sub: 'user-demo',
      aud: [STS, 'app-a'],
      client_id: 'app-a',
      scope: 'openid profile email offline_access todos:read',
      iat: now,
      exp: now + 3600,
      jti: randomUUID(),
    },
  ),
)

const logger = createLogger(
  { level: 'info', name: 'onbehalf' },
  pino.destination({ fd: openSync('/dev/null', 'w'), sync: true }),
)
const verifier = createJwsVerifier({
  algorithms: ['ES256'],
  resolveKey: ({ iss }) => (iss === UPSTREAM ? upstreamKeys.publicKey : undefined),
})
const runner = createGrantRunner({
  minter: createJwsMinter({ currentSigner: () => stsSigner }),
  audit: (event) =>
    logger.info({ audit: event, component: 'sts' }, `token exchange ${event.outcome}`),
})
const grant = createTokenExchangeGrant({
  policy: config.policy,
  verifier,
  subjectStatus: { isActive: async () => true },
})
const authenticator = createClientAuthenticator(
  new Map([...config.clientSecrets].map(([id, secret]) => [id, { clientId: id, secret }])),
)
const authorization = `Basic ${Buffer.from(`app-a:${SECRET}`).toString('base64')}`

let next = 0
async function exchange(): Promise<void> {
  const body: GrantParams = {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: subjectTokens[next++ % subjectTokens.length]!,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    audience: 'app-b',
    scope: 'todos:read',
  }
  const client = authenticator.authenticate({ authorizationHeader: authorization, body })
  const response = await runner.run(grant, {
    params: body,
    client,
    dpop: { headers: [], htm: 'POST', htu: `${STS}/token` },
  })
  if (typeof response.access_token !== 'string') throw new Error('no token')
}

const floorKey = { key: upstreamKeys.publicKey, dsaEncoding: 'ieee-p1363' as const }
const signKey = {
  key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  dsaEncoding: 'ieee-p1363' as const,
}
const floorInputs = subjectTokens.map((token) => {
  const [h, p, s] = token.split('.') as [string, string, string]
  return { data: Buffer.from(`${h}.${p}`, 'ascii'), signature: Buffer.from(s, 'base64url') }
})
const issued = Buffer.from(subjectTokens[0]!.split('.').slice(0, 2).join('.'), 'ascii')
let floorNext = 0
function floor(): void {
  const input = floorInputs[floorNext++ % floorInputs.length]!
  if (!verify('sha256', input.data, floorKey, input.signature)) throw new Error('floor verify')
  sign('sha256', issued, signKey)
}

async function perOperationUs(operation: () => unknown, ms: number): Promise<number> {
  const started = cpuMs()
  let count = 0
  while (cpuMs() - started < ms) {
    for (let i = 0; i < 100; i++) await operation()
    count += 100
  }
  return ((cpuMs() - started) * 1000) / count
}

for (let i = 0; i < 1000; i++) await exchange()
for (let i = 0; i < 1000; i++) floor()
const engine: number[] = []
const bare: number[] = []
for (let r = 0; r < Number(values.rounds); r++) {
  engine.push(await perOperationUs(exchange, Number(values.ms)))
  bare.push(await perOperationUs(floor, Number(values.ms)))
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const e = median(engine)
const f = median(bare)
console.log(
  `STS engine per exchange ${e.toFixed(1)} µs, crypto floor ${f.toFixed(1)} µs: ${(e / f).toFixed(2)}× floor, ${(e - f).toFixed(1)} µs on top (rounds: engine ${engine.map((x) => x.toFixed(1)).join(', ')}; floor ${bare.map((x) => x.toFixed(1)).join(', ')})`,
)
