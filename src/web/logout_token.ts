/**
 * Validation of an OpenID Connect Back-Channel Logout 1.0 logout token (§2.6), for a web app that
 * receives one at its back-channel logout URI. In the order of §2.6:
 * signature with the issuer's own keys (pinned algorithms; key URLs in the header refused) → `typ`
 * (`logout+jwt` when present, §2.4) → `iss` → `aud` names this client → `iat` present, recent, not
 * ahead → `exp` (when present) not passed → `jti` present → `events` holds the back-channel logout
 * event as an object → `sub` or `sid` present → no `nonce` (an ID token is not a logout token) →
 * `jti` never seen before (replay, §2.6 step 10, remembered until the token could no longer pass).
 *
 * A failure throws `LogoutTokenError` with a `reason`; the token itself is never logged or echoed.
 */
import { createJwsVerifier, JwsVerificationError } from '../jws/verify_jws.js'
import { createRemoteKeySet } from '../keys/remote_jwks.js'
import type { Clock } from '../time/clock.js'

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

export type LogoutTokenFailure =
  | 'signature'
  | 'keys_unavailable'
  | 'typ'
  | 'iss'
  | 'aud'
  | 'iat'
  | 'exp'
  | 'jti'
  | 'events'
  | 'subject'
  | 'nonce'
  | 'replayed'

export class LogoutTokenError extends Error {
  static readonly code = 'ERR_LOGOUT_TOKEN_INVALID'
  readonly code = LogoutTokenError.code
  override name = 'LogoutTokenError'
  constructor(readonly reason: LogoutTokenFailure) {
    super(`logout token refused: ${reason}`)
  }
}

/** Whose sessions to end: `sid` names one IdP session, `sub` alone every session of the user. */
export interface LogoutRequest {
  readonly sub?: string
  readonly sid?: string
  readonly jti: string
}

export interface LogoutTokenVerifierOptions {
  readonly issuer: string
  readonly clientId: string
  /** The issuer's JWKS URL; discovery finds it when absent. */
  readonly jwksUri?: () => Promise<string | undefined>
  readonly algorithms?: readonly string[]
  readonly fetch?: typeof fetch
  readonly now: Clock
  /** Seconds of clock difference tolerated. Default 30. */
  readonly clockSkewSeconds?: number
  /** Oldest `iat` accepted, in seconds: a logout token is sent right away. Default 300. */
  readonly maxAgeSeconds?: number
  /** Most `jti`s remembered (the oldest go first). Default 10 000. */
  readonly maxRememberedJtis?: number
}

export interface LogoutTokenVerifier {
  verify(token: string): Promise<LogoutRequest>
}

const ALLOWED_TYP = new Set(['logout+jwt', 'application/logout+jwt'])

const isNonEmptyString = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * @example
 * const logoutTokens = createLogoutTokenVerifier({ issuer, clientId: 'app-b', now: systemClock })
 * const { sid, sub } = await logoutTokens.verify(request.body.logout_token)
 */
export function createLogoutTokenVerifier(
  options: LogoutTokenVerifierOptions,
): LogoutTokenVerifier {
  const { issuer, clientId, now } = options
  const skew = options.clockSkewSeconds ?? 30
  const maxAge = options.maxAgeSeconds ?? 300
  const maxJtis = options.maxRememberedJtis ?? 10_000
  const algorithms = options.algorithms ?? ['ES256']
  let keys: ReturnType<typeof createRemoteKeySet> | undefined
  async function keySet() {
    if (keys) return keys
    const jwksUri = await options.jwksUri?.()
    keys = createRemoteKeySet({
      issuer,
      ...(jwksUri ? { jwksUri } : {}),
      algorithms,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      now,
    })
    return keys
  }
  const verifier = createJwsVerifier({
    algorithms,
    // Keys only from the configured issuer, whatever `iss` the token claims.
    resolveKey: async ({ kid, alg }) => (await keySet()).getKey(kid, alg),
  })
  /** jti → the time after which a token with it would fail `iat`/`exp` anyway. */
  const seen = new Map<string, number>()

  function remember(jti: string, until: number): void {
    const at = now()
    if (seen.size >= maxJtis) {
      for (const [other, expiresAt] of seen) if (expiresAt <= at) seen.delete(other)
      if (seen.size >= maxJtis) seen.delete(seen.keys().next().value!)
    }
    seen.set(jti, until)
  }

  return Object.freeze({
    async verify(token: string): Promise<LogoutRequest> {
      let header: Record<string, unknown>
      let claims: Readonly<Record<string, unknown>>
      try {
        const verified = await verifier.verify(token)
        header = verified.header
        claims = verified.payload
      } catch (error) {
        if (error instanceof JwsVerificationError && error.reason === 'key_unavailable') {
          throw new LogoutTokenError('keys_unavailable')
        }
        throw new LogoutTokenError('signature')
      }
      const typ = header.typ
      if (typ !== undefined && !(typeof typ === 'string' && ALLOWED_TYP.has(typ.toLowerCase()))) {
        throw new LogoutTokenError('typ')
      }
      if (claims.iss !== issuer) throw new LogoutTokenError('iss')
      const aud = claims.aud
      if (!(aud === clientId || (Array.isArray(aud) && aud.includes(clientId)))) {
        throw new LogoutTokenError('aud')
      }
      const at = now()
      const iat = claims.iat
      if (typeof iat !== 'number' || iat > at + skew || iat < at - maxAge - skew) {
        throw new LogoutTokenError('iat')
      }
      const exp = claims.exp
      if (exp !== undefined && !(typeof exp === 'number' && exp > at - skew)) {
        throw new LogoutTokenError('exp')
      }
      if (!isNonEmptyString(claims.jti)) throw new LogoutTokenError('jti')
      const events = claims.events
      if (!isObject(events) || !isObject(events[BACKCHANNEL_LOGOUT_EVENT])) {
        throw new LogoutTokenError('events')
      }
      const sub = claims.sub
      const sid = claims.sid
      if (sub !== undefined && !isNonEmptyString(sub)) throw new LogoutTokenError('subject')
      if (sid !== undefined && !isNonEmptyString(sid)) throw new LogoutTokenError('subject')
      if (sub === undefined && sid === undefined) throw new LogoutTokenError('subject')
      if (claims.nonce !== undefined) throw new LogoutTokenError('nonce')
      const rememberedUntil = seen.get(claims.jti)
      if (rememberedUntil !== undefined && rememberedUntil > at) {
        throw new LogoutTokenError('replayed')
      }
      remember(claims.jti, Math.max(iat + maxAge + skew, typeof exp === 'number' ? exp + skew : 0))
      return Object.freeze({
        jti: claims.jti,
        ...(sub !== undefined ? { sub } : {}),
        ...(sid !== undefined ? { sid } : {}),
      })
    },
  })
}
