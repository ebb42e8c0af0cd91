/**
 * Fixtures for the engine tests: real P-256 keys, a real signer and verifier, a policy with three
 * targets, token factories, a minter spy, an engine wired with it and an audit collector, and the
 * casts that stand in for a stage when a test starts in the middle of the pipeline.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import type { AuditEvent, TokenExchangeAuditEvent } from '../../src/exchange/audit.js'
import { OAuthError, type OAuthErrorCode } from '../../src/exchange/errors.js'
import { createTokenExchange } from '../../src/exchange/token_exchange/grant.js'
import { createJwsSigner } from '../../src/jws/sign_jws.js'
import { createJwsVerifier } from '../../src/jws/verify_jws.js'
import { createJwsMinter, type MintRequest, type TokenMinter } from '../../src/exchange/mint.js'
import { createExchangePolicy, type ExchangePolicyInput } from '../../src/exchange/policy.js'
import { createGrantRunner } from '../../src/exchange/runner.js'
import {
  GRANT_TYPE_TOKEN_EXCHANGE,
  type ExchangeDecision,
  type ExchangeRequest,
  type VerifiedActor,
  type VerifiedSubject,
} from '../../src/exchange/token_exchange/types.js'
import {
  TOKEN_TYPE,
  type AuthenticatedClient,
  type VerifiedToken,
} from '../../src/exchange/types.js'
import type { TokenValidationDeps } from '../../src/exchange/verify_access_token.js'
import type { Clock } from '../../src/time/clock.js'

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
): TokenValidationDeps & { policy: typeof policy } {
  return {
    verifier,
    boundTokens: 'proof_checked',
    subjectStatus: { isActive: async (token) => isActive(token) },
    policy,
    now: NOW,
  }
}

/** The engine's own JWS minter over the test key, counting its calls. */
export function spyMinter() {
  const real = createJwsMinter({ currentSigner: () => signer })
  const minted: string[] = []
  const requests: MintRequest[] = []
  const minter: TokenMinter = {
    async mint(request) {
      requests.push(request)
      const token = await real.mint(request)
      minted.push(token)
      return token
    },
  }
  return {
    minter,
    minted,
    requests,
    get mintCalls() {
      return requests.length
    },
  }
}

/** A runner for any grant, with the minter spy and an audit collector, at `NOW`. */
export function buildRunner(now: Clock = () => NOW) {
  const spy = spyMinter()
  const audits: AuditEvent[] = []
  const runner = createGrantRunner({
    minter: spy.minter,
    audit: (event) => audits.push(event),
    now,
  })
  return { runner, audits, spy }
}

export function buildEngine(options: { isActive?: (token: VerifiedToken) => boolean } = {}) {
  const audits: TokenExchangeAuditEvent[] = []
  const spy = spyMinter()
  const isActive = options.isActive ?? (() => true)
  const engine = createTokenExchange({
    policy,
    verifier,
    subjectStatus: { isActive: async (token) => isActive(token) },
    minter: spy.minter,
    audit: (event) => audits.push(event),
    now: () => NOW,
  })
  return {
    engine,
    audits,
    minted: spy.minted,
    get mintCalls() {
      return spy.mintCalls
    },
  }
}

/*
 * Stand-ins for a stage's output, for unit tests that start in the middle of the pipeline. In
 * source code only the stage itself produces these (the brand is type-level; see
 * stage_order.test.ts).
 */
/** A stage output without its brand: the plain fields a test writes down. */
export type Unbranded<T> = { [K in keyof T as K extends string ? K : never]: T[K] }

export const asExchangeRequest = (request: Unbranded<ExchangeRequest>) => request as ExchangeRequest
export const asVerifiedSubject = (token: VerifiedToken) => token as VerifiedSubject
export const asVerifiedActor = (token: VerifiedToken) => token as VerifiedActor
export const asExchangeDecision = (decision: Unbranded<ExchangeDecision>) =>
  decision as ExchangeDecision

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
