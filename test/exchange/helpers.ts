/**
 * Fixtures for the exchange engine tests: real P-256 keys, a real signer and verifier, a policy with
 * three targets, token factories and an engine wired with a minter spy and an audit collector.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import type { AuditEvent } from '../../src/exchange/audit.js'
import { OAuthError, type OAuthErrorCode } from '../../src/exchange/errors.js'
import { createTokenExchange } from '../../src/exchange/exchange.js'
import { createJwsSigner } from '../../src/jws/sign_jws.js'
import { createJwsVerifier } from '../../src/jws/verify_jws.js'
import { createJwsMinter, type TokenMinter } from '../../src/exchange/mint.js'
import { createExchangePolicy, type ExchangePolicyInput } from '../../src/exchange/policy.js'
import {
  GRANT_TYPE_TOKEN_EXCHANGE,
  TOKEN_TYPE,
  type AuthenticatedClient,
  type VerifiedToken,
} from '../../src/exchange/types.js'
import type { TokenValidationDeps } from '../../src/exchange/verify_access_token.js'

export const ISSUER = 'https://idp.example'
export const NOW = 1_700_000_000

export const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' })
export const attackerKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' })
export const signer = createJwsSigner({ alg: 'ES256', kid: 'k1', privateKey: keys.privateKey })
/** Signs with a key the verifier does not know under kid k1's neighbour. */
export const attackerSigner = createJwsSigner({
  alg: 'ES256',
  kid: 'k-attacker',
  privateKey: attackerKeys.privateKey,
})
export const verifier = createJwsVerifier({
  algorithms: ['ES256'],
  resolveKey: ({ kid }) => (kid === 'k1' ? keys.publicKey : undefined),
})

export const policyInput: ExchangePolicyInput = {
  issuer: ISSUER,
  trustedIssuers: [ISSUER],
  targets: {
    'app-a': { resourceUris: ['https://a.example/api'], scopes: ['todos:read', 'todos:write'] },
    'app-b': { resourceUris: ['https://b.example/api'], scopes: ['todos:read', 'todos:write'] },
    'app-c': { resourceUris: ['https://c.example/api'], scopes: ['todos:read', 'todos:write'] },
  },
  clients: {
    'app-a': {
      enabled: true,
      allowedAudiences: ['app-b'],
      scopeCeiling: ['todos:read'],
      serviceIdentities: ['svc-a'],
    },
    'app-b': {
      enabled: true,
      allowedAudiences: ['app-a', 'app-c'],
      scopeCeiling: ['todos:read', 'todos:write'],
    },
    'app-c': { enabled: false, allowedAudiences: ['app-a'], scopeCeiling: ['todos:read'] },
    'app-imp': {
      enabled: true,
      mode: 'impersonation',
      allowedAudiences: ['app-b'],
      scopeCeiling: ['todos:read'],
    },
  },
}
export const policy = createExchangePolicy(policyInput)

export const clientA: AuthenticatedClient = { clientId: 'app-a', authMethod: 'client_secret_basic' }
export const clientB: AuthenticatedClient = { clientId: 'app-b', authMethod: 'client_secret_basic' }

type ClaimOverrides = Record<string, unknown>

/** A user's JWT access token for app-a, signed by the IdP; `undefined` in overrides removes a claim. */
export function userToken(overrides: ClaimOverrides = {}, header: ClaimOverrides = {}): string {
  return signToken(
    {
      iss: ISSUER,
      sub: 'alice',
      aud: 'app-a',
      client_id: 'app-a',
      scope: 'openid todos:read todos:write',
      iat: NOW - 10,
      exp: NOW + 600,
      jti: randomUUID(),
      ...overrides,
    },
    header,
  )
}

/** A client's own access token (client credentials), usable as an actor token. */
export function clientToken(clientId: string, overrides: ClaimOverrides = {}): string {
  return userToken({ sub: clientId, client_id: clientId, aud: ISSUER, scope: '', ...overrides })
}

export function signToken(claims: ClaimOverrides, header: ClaimOverrides = {}): string {
  const payload = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined))
  return signer.sign({ typ: 'at+jwt', ...header }, payload)
}

export function exchangeParams(
  subjectToken: string,
  extra: Record<string, string | string[]> = {},
) {
  return {
    grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: TOKEN_TYPE.ACCESS_TOKEN,
    ...extra,
  }
}

export function tokenDeps(
  isActive: (token: VerifiedToken) => boolean = () => true,
): TokenValidationDeps {
  return {
    verifier,
    subjectStatus: { isActive: async (token) => isActive(token) },
    policy,
    now: NOW,
  }
}

export function buildEngine(options: { isActive?: (token: VerifiedToken) => boolean } = {}) {
  const audits: AuditEvent[] = []
  const minted: string[] = []
  const real = createJwsMinter(signer)
  let mintCalls = 0
  const minter: TokenMinter = {
    async mint(claims, header, decision) {
      mintCalls++
      const token = await real.mint(claims, header, decision)
      minted.push(token)
      return token
    },
  }
  const isActive = options.isActive ?? (() => true)
  const engine = createTokenExchange({
    policy,
    verifier,
    subjectStatus: { isActive: async (token) => isActive(token) },
    minter,
    audit: (event) => audits.push(event),
    now: () => NOW,
  })
  return {
    engine,
    audits,
    minted,
    get mintCalls() {
      return mintCalls
    },
  }
}

export interface ExpectedError {
  error: OAuthErrorCode
  statusCode: number
  detail?: string | RegExp
  description?: string
}

/** An `assert.throws`/`assert.rejects` validator that pins error, status, detail and description. */
export function oauthError(expected: ExpectedError) {
  return (err: unknown): true => {
    assert.ok(err instanceof OAuthError, `expected an OAuthError, got ${String(err)}`)
    assert.equal(err.error, expected.error)
    assert.equal(err.statusCode, expected.statusCode)
    if (expected.description !== undefined) assert.equal(err.description, expected.description)
    if (typeof expected.detail === 'string') assert.equal(err.detail, expected.detail)
    else if (expected.detail instanceof RegExp) assert.match(err.detail ?? '', expected.detail)
    return true
  }
}

export function decodePayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'))
}

export function decodeHeader(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString('utf8'))
}
