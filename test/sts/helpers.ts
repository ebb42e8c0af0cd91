/**
 * STS fixtures: a configuration in the file's own JSON shape (so tests go through the loader), a
 * capturing logger, a listening STS on 127.0.0.1, and a tiny upstream IdP (discovery + JWKS on
 * port 0) whose keys a test can rotate or take down.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { createJwsSigner } from '../../src/exchange/index.js'
import { createLogger, type Logger } from '../../src/log/logger.js'
import { parseStsConfig, type StsConfig } from '../../src/sts/config.js'

export const CLIENT_SECRETS = {
  STS_APP_A_SECRET: 'sts-app-a-secret-0123456789-0123456789',
  STS_APP_B_SECRET: 'sts-app-b-secret-0123456789-0123456789',
}

export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'onbehalf-sts-'))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  return { logger: createLogger({ level: 'info' }, sink), lines }
}

/** Raw config JSON for one upstream, app-a (may exchange toward app-b) and app-b (may not). */
export function stsConfigJson(options: {
  issuer: string
  keyDir: string
  upstream: Record<string, unknown>
  appBUrl?: string
}): Record<string, unknown> {
  return {
    issuer: options.issuer,
    keys: { directory: options.keyDir },
    upstreams: { upstream: options.upstream },
    targets: {
      'app-a': { resourceUris: ['https://app-a.example'], scopes: ['todos:read', 'todos:write'] },
      'app-b': {
        resourceUris: [options.appBUrl ?? 'https://app-b.example'],
        scopes: ['todos:read', 'todos:write'],
      },
    },
    clients: {
      'app-a': {
        secretEnv: 'STS_APP_A_SECRET',
        tokenExchange: { enabled: true, allowedAudiences: ['app-b'], scopeCeiling: ['todos:read'] },
      },
      'app-b': {
        secretEnv: 'STS_APP_B_SECRET',
        tokenExchange: { enabled: false },
      },
    },
  }
}

export function loadConfig(raw: unknown, vars: Record<string, string> = {}): StsConfig {
  return parseStsConfig(raw, { ...CLIENT_SECRETS, ...vars }, 'test')
}

interface UpstreamKey {
  kid: string
  privateKey: KeyObject
  publicKey: KeyObject
}

function newKey(): UpstreamKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { kid: randomUUID(), privateKey, publicKey }
}

/**
 * A minimal upstream IdP: `/.well-known/openid-configuration` and `/jwks` on 127.0.0.1:0, signing
 * tokens with its newest key. `rotate()` publishes a new key and signs with it at once;
 * `retireOldest()` unpublishes the oldest; `down` answers 503 to everything.
 */
export class FakeUpstream {
  issuer = ''
  down = false
  jwksRequests = 0
  typ = 'at+jwt'
  private keys: UpstreamKey[] = [newKey()]
  private server: Server | undefined

  async start(path = ''): Promise<this> {
    this.server = createServer((request, response) => {
      const url = request.url ?? ''
      if (this.down) {
        response.writeHead(503).end()
        return
      }
      const base = new URL(this.issuer).pathname.replace(/\/+$/, '')
      if (url === `${base}/.well-known/openid-configuration`) {
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end(
          JSON.stringify({
            issuer: this.issuer,
            jwks_uri: `${this.issuer.replace(/\/+$/, '')}/jwks`,
          }),
        )
      } else if (url === `${base}/jwks`) {
        this.jwksRequests++
        response.writeHead(200, { 'content-type': 'application/json' })
        const keys = this.keys.map((key) => ({
          ...key.publicKey.export({ format: 'jwk' }),
          kid: key.kid,
          alg: 'ES256',
          use: 'sig',
        }))
        response.end(JSON.stringify({ keys }))
      } else {
        response.writeHead(404).end()
      }
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.issuer = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`
    return this
  }

  get activeKid(): string {
    return this.keys[this.keys.length - 1]!.kid
  }

  rotate(): void {
    this.keys.push(newKey())
  }

  retireOldest(): void {
    if (this.keys.length > 1) this.keys.shift()
  }

  /** An access token of this upstream for `clientId` (RFC 9068 shape unless overridden). */
  token(
    claims: Record<string, unknown> = {},
    options: { now?: number; typ?: string } = {},
  ): string {
    const key = this.keys[this.keys.length - 1]!
    const now = Math.floor(options.now ?? Date.now() / 1000)
    const payload = Object.fromEntries(
      Object.entries({
        iss: this.issuer,
        sub: 'user-1',
        aud: 'upstream-app-a',
        client_id: 'upstream-app-a',
        scope: 'openid todos:read',
        iat: now,
        exp: now + 600,
        jti: randomUUID(),
        ...claims,
      }).filter(([, value]) => value !== undefined),
    )
    return createJwsSigner({ alg: 'ES256', kid: key.kid, privateKey: key.privateKey }).sign(
      { typ: options.typ ?? this.typ },
      payload,
    )
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()))
  }
}

export function formBody(params: Record<string, string>): string {
  return new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    ...params,
  }).toString()
}

export function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`
}

/** POST /token through inject, as app-a unless told otherwise. */
export async function injectExchange(
  app: FastifyInstance,
  params: Record<string, string>,
  auth = basic('app-a', CLIENT_SECRETS.STS_APP_A_SECRET),
) {
  const response = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
    payload: formBody(params),
  })
  return {
    status: response.statusCode,
    headers: response.headers,
    body: response.json() as Record<string, any>,
  }
}

/** A clock the test moves by hand, in seconds. */
export function manualClock(start = Date.now() / 1000) {
  let now = start
  return {
    now: () => now,
    advance(seconds: number) {
      now += seconds
    },
  }
}

export const STS_ISSUER = 'http://sts.test'
export const TRUST_DOMAIN = 'onbehalf.test'
export const TXN_SECRETS = {
  ...CLIENT_SECRETS,
  STS_APP_C_SECRET: 'sts-app-c-secret-0123456789-0123456789',
}

/**
 * Raw config JSON of an STS in Txn-Token Service mode: trust domain `onbehalf.test`, app-a may
 * exchange toward app-b, app-b may request and replace txn tokens, app-c may only request them.
 */
export function txnStsConfigJson(options: {
  keyDir: string
  upstreamIssuer: string
  txnTokens?: Record<string, unknown>
}): Record<string, any> {
  return {
    issuer: STS_ISSUER,
    keys: { directory: options.keyDir },
    upstreams: { upstream: { issuer: options.upstreamIssuer, algorithms: ['ES256'] } },
    txnTokens: { trustDomain: TRUST_DOMAIN, lifetimeSeconds: 60, maxReplacements: 2 },
    ...(options.txnTokens === undefined ? {} : { txnTokens: options.txnTokens }),
    targets: { 'app-b': { resourceUris: ['https://app-b.example'], scopes: ['todos:read'] } },
    clients: {
      'app-a': {
        secretEnv: 'STS_APP_A_SECRET',
        tokenExchange: { enabled: true, allowedAudiences: ['app-b'], scopeCeiling: ['todos:read'] },
      },
      'app-b': {
        secretEnv: 'STS_APP_B_SECRET',
        txnToken: { enabled: true, scopes: ['todos:read', 'todos:write'], mayReplace: true },
      },
      'app-c': {
        secretEnv: 'STS_APP_C_SECRET',
        txnToken: { enabled: true, scopes: ['todos:read'], mayReplace: false },
      },
    },
  }
}
