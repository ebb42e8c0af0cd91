/**
 * Test fixtures for the resource kit: real ES256 keys, a real JWKS served over HTTP on 127.0.0.1
 * port 0, and a signer for RFC 9068 access tokens with overridable header and claims.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose'

export const ISSUER = 'http://localhost:9000'
export const AUDIENCE = 'app-b'

export interface TestKey {
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
  readonly publicJwk: JWK
}

export async function createTestKey(kid: string = randomUUID(), alg = 'ES256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { kid, privateKey, publicKey, publicJwk }
}

export interface JwksServer {
  readonly url: string
  /** Keys currently published. */
  keys: TestKey[]
  /** How many times the key set was fetched. */
  readonly fetches: () => number
  close(): Promise<void>
}

export async function startJwksServer(keys: TestKey[]): Promise<JwksServer> {
  let fetches = 0
  const state = { keys }
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks') {
      res.writeHead(404).end()
      return
    }
    fetches++
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' })
    res.end(JSON.stringify({ keys: state.keys.map((k) => k.publicJwk) }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/jwks`,
    get keys() {
      return state.keys
    },
    set keys(next) {
      state.keys = next
    },
    fetches: () => fetches,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

export interface SignOptions {
  readonly header?: Record<string, unknown>
  readonly claims?: JWTPayload
  /** Claim names to leave out. */
  readonly omit?: readonly string[]
}

/** A delegated App A → App B token, as the token exchange issues it, unless overridden. */
export async function signAccessToken(key: TestKey, options: SignOptions = {}): Promise<string> {
  const claims = baseClaims(options.claims)
  for (const name of options.omit ?? []) delete claims[name]
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid, ...options.header })
    .sign(key.privateKey)
}

export function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString(
    'base64url',
  )
}

/** Signs any header and payload with ES256, bypassing jose's own header checks (e.g. `crit`). */
export async function signRaw(key: TestKey, header: object, payload: object): Promise<string> {
  const input = `${b64url(header)}.${b64url(payload)}`
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key.privateKey,
    new TextEncoder().encode(input),
  )
  return `${input}.${Buffer.from(signature).toString('base64url')}`
}

/** Standard claims for hand-built tokens. */
export function baseClaims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000)
  return {
    iss: ISSUER,
    sub: 'user-alice',
    aud: AUDIENCE,
    client_id: 'app-a',
    azp: 'app-a',
    act: { sub: 'app-a', iss: ISSUER },
    scope: 'todos:read',
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
    ...overrides,
  }
}
