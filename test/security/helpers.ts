/**
 * Helpers for the security suite: a live IdP with a policy variant and abuse limits of the test's
 * choosing, crafted tokens signed with the IdP's own key (a "stolen key", or a token shape the IdP
 * does not issue yet), and registration of such a token as if the IdP had issued it.
 */
import { randomUUID, sign, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { EventEmitter } from 'node:events'
import type { Env } from '../../src/config/env.js'
import { parsePolicy } from '../../src/config/policy_file.js'
import type { AbuseLimitsInput } from '../../src/idp/app.js'
import type { Logger } from '../../src/log/logger.js'
import { decodeJwt, startStack, type Stack } from '../helpers/stack.js'

export const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
export const JWT = 'urn:ietf:params:oauth:token-type:jwt'
export const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token'
export const REFRESH_TOKEN = 'urn:ietf:params:oauth:token-type:refresh_token'
export const SUBJECT_INVALID = 'subject_token is invalid'
export const ACTOR_INVALID = 'actor_token is invalid'

export const USERS = Object.freeze({
  demo: '3f9d2b8e-6a41-4c5e-9f2a-7d1e0c4b8a01',
  alice: '8c1f4e2a-0b7d-4e93-a5c6-2f8b9d0e1a02',
  bob: 'd47a9c3e-2f15-4b08-8e6d-5a3c1b9f0e03',
})

/** Secret of every extra client (app-c, app-d, …) of a policy variant. */
export const EXTRA_CLIENT_SECRET = 'security-suite-extra-client-secret-0123456789'

export type PolicyJson = {
  exchange?: Record<string, unknown>
  targets: Record<string, Record<string, unknown>>
  clients: Record<string, Record<string, any>>
  [key: string]: unknown
}

export function basePolicyJson(): PolicyJson {
  return JSON.parse(readFileSync('config/policy.json', 'utf8')) as PolicyJson
}

/** Adds a target and a confidential client `id` (secret EXTRA_CLIENT_SECRET) to a policy. */
export function addService(
  policy: PolicyJson,
  id: string,
  tokenExchange: Record<string, unknown> = { enabled: false },
): void {
  policy.targets[id] = {
    resourceUris: [`https://${id}.test`],
    scopes: ['todos:read', 'todos:write'],
  }
  policy.clients[id] = {
    name: id,
    secretEnv: 'SECURITY_SUITE_EXTRA_SECRET',
    firstParty: true,
    redirectUris: [`https://${id}.test/auth/callback`],
    loginAudience: id,
    tokenExchange,
  }
}

export interface LiveIdpOptions {
  /** Receives the parsed config/policy.json and changes it in place. */
  policy?: (json: PolicyJson) => void
  abuseLimits?: AbuseLimitsInput
  logger?: Logger
}

/** The real IdP on an ephemeral 127.0.0.1 port (`startStack()`), with a policy variant. */
export async function startLiveIdp(options: LiveIdpOptions = {}): Promise<Stack> {
  return startStack({
    ...(options.logger ? { logger: options.logger } : {}),
    idp: (env) => {
      let policy
      if (options.policy) {
        const json = basePolicyJson()
        options.policy(json)
        const secrets = { ...env, SECURITY_SUITE_EXTRA_SECRET: EXTRA_CLIENT_SECRET } as Env
        policy = parsePolicy(json, secrets, env.IDP_ISSUER, 'security policy variant')
      }
      return {
        ...(policy ? { policy } : {}),
        ...(options.abuseLimits ? { abuseLimits: options.abuseLimits } : {}),
      }
    },
  })
}

/**
 * Signs an ES256 compact JWS with the given key (default: the IdP's active key — a stolen key).
 * The header is entirely the test's: `{ alg: 'ES256', typ: 'at+jwt', kid }` then `header`, so a
 * test can inject any `kid`, `jku`, `crit`… (the product signer would not let it).
 */
export function signJwt(
  stack: Stack,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
  key: { kid: string; privateKey: KeyObject } = stack.idp.keys.active,
): string {
  const fullHeader = { alg: 'ES256', typ: 'at+jwt', kid: key.kid, ...header }
  const input = `${b64(fullHeader)}.${b64(payload)}`
  const signature = sign('sha256', Buffer.from(input, 'ascii'), {
    key: key.privateKey,
    dsaEncoding: 'ieee-p1363',
  })
  return `${input}.${signature.toString('base64url')}`
}

/** A form POST to the IdP token endpoint exactly as given (no grant_type added). */
export async function postToken(
  stack: Stack,
  form: URLSearchParams | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, any> }> {
  const response = await fetch(`${stack.idp.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: form,
  })
  const text = await response.text()
  let body: Record<string, any>
  try {
    body = JSON.parse(text)
  } catch {
    body = { raw: text }
  }
  return { status: response.status, headers: response.headers, body }
}

/**
 * Records `jti` as issued, the way the IdP records the access tokens it mints, so that a crafted
 * token reaches the checks after the status check (e.g. `may_act`, which the IdP does not issue).
 */
export function registerAsIssued(stack: Stack, token: string): void {
  const { payload } = decodeJwt(token)
  ;(stack.idp.provider as unknown as EventEmitter).emit('access_token.issued', {
    jti: payload.jti,
    clientId: payload.client_id,
    accountId: payload.sub,
    exp: payload.exp,
  })
}

/** Claims of an RFC 9068 access token of this IdP for `sub`, addressed to `aud`. */
export function accessTokenClaims(
  stack: Stack,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return {
    iss: stack.idp.issuer,
    sub: USERS.demo,
    aud: 'app-a',
    client_id: 'app-a',
    scope: 'todos:read',
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
    ...overrides,
  }
}

/** A crafted token signed with the IdP key and registered as issued. */
export function issuedLikeToken(
  stack: Stack,
  overrides: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): string {
  const token = signJwt(stack, accessTokenClaims(stack, overrides), header)
  registerAsIssued(stack, token)
  return token
}

export function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}
