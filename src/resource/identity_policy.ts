/**
 * Who is the user? An explicit, per-caller rule a resource server applies after the bearer token
 * was verified:
 *
 * - `token` (the default for every caller): the verified token's `sub`. An `X-User-Sub` header is
 *   ignored, and the decision says why.
 * - `trusted-header` (opt-in, per named service): `X-User-Sub` is honoured only when the bearer token
 *   is that service's own token — `sub` = `client_id` = `azp` = the named service, no `act`. This is
 *   the "M2M + header" workaround: the user is whatever the service writes in the header, so the
 *   service (and anyone holding its client secret) can name any user. RFC 8693 tokens never qualify:
 *   they name their user in `sub` and the caller in `act`, and the header cannot override them.
 *
 * @example
 * ```ts
 * const decideIdentity = createIdentityPolicy({ trustedHeaderCallers: ['app-a'] })
 * const { user, decidedBy, headerIgnored } = decideIdentity(verifiedToken, request.headers['x-user-sub'])
 * ```
 */
import { ResourceAuthError } from './errors.js'
import type { VerifiedAccessToken } from './verifier.js'

export type IdentityRule = 'token' | 'trusted-header'

/** The header the workaround uses to name the user (lower case, as Node exposes it). */
export const USER_HEADER = 'x-user-sub'

export interface IdentityDecision {
  /** Whose data is served. */
  readonly user: string
  readonly decidedBy: IdentityRule
  /** Set when an `X-User-Sub` header was present and not honoured: why. */
  readonly headerIgnored?: string
}

export interface IdentityPolicyOptions {
  /** Services whose own tokens may name the user in `X-User-Sub`. Empty: the header is never used. */
  readonly trustedHeaderCallers: readonly string[]
}

export type IdentityPolicy = (
  token: VerifiedAccessToken,
  header: string | readonly string[] | undefined,
) => IdentityDecision

const HEADER_VALUE = /^[\x21-\x7E]{1,255}$/

/** The token is `service`'s own (client credentials): it names no user and no actor. */
export function isServiceOwnToken(token: VerifiedAccessToken, service: string): boolean {
  return (
    token.sub === service &&
    token.clientId === service &&
    token.azp === service &&
    token.actorChain.length === 0
  )
}

export function createIdentityPolicy(options: IdentityPolicyOptions): IdentityPolicy {
  const trusted = new Set(options.trustedHeaderCallers)
  for (const caller of trusted) {
    if (typeof caller !== 'string' || caller === '') {
      throw new TypeError('"trustedHeaderCallers" must hold non-empty client ids')
    }
  }
  return function decideIdentity(token, header) {
    if (header === undefined) return Object.freeze({ user: token.sub, decidedBy: 'token' })
    if (typeof header !== 'string' || !HEADER_VALUE.test(header)) {
      throw new ResourceAuthError('invalid_request', { detail: 'X-User-Sub malformed or repeated' })
    }
    const caller = token.caller
    let headerIgnored: string
    if (!trusted.has(caller)) {
      headerIgnored = `X-User-Sub ignored: caller ${caller} is not a trusted-header caller`
    } else if (!isServiceOwnToken(token, caller)) {
      headerIgnored =
        token.actorChain.length > 0
          ? `X-User-Sub ignored: the token is delegated (act ${token.actorChain[0]}) and names its user`
          : `X-User-Sub ignored: the token names its user (sub ${token.sub}), not the service ${caller}`
    } else {
      return Object.freeze({ user: header, decidedBy: 'trusted-header' })
    }
    return Object.freeze({ user: token.sub, decidedBy: 'token', headerIgnored })
  }
}
