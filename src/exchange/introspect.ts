/**
 * Token introspection (RFC 7662) of the JWT access tokens a token service issued, exchanged ones
 * included: framework-free, so the IdP's endpoint (and an STS) answer alike.
 *
 * The token goes through the engine's one verification path (verify_access_token.ts: signature,
 * RFC 9068 claims, times, still active — for the IdP that means its record, its grant and every
 * token it was exchanged from), so a token is active here exactly when an exchange would accept
 * it. The answer shows the whole delegation chain (`act`, nested), `may_act` and the binding
 * (`cnf`, `token_type: DPoP`): what Keycloak #53029 leaves out.
 *
 * Who may ask: only a resource server (a client that is a configured target), and it learns only
 * about tokens addressed to it (`aud`); for anything else the answer is `{ active: false }`, the
 * same as for a dead token (RFC 7662 §4: no hint whether a token exists). A caller that is not a
 * resource server at all is refused (`unauthorized_client`).
 *
 * @example
 * ```ts
 * const introspect = createIntrospector({ policy, verifier, status })
 * const body = await introspect({ token, client })
 * ```
 */
import type { JwsVerifier } from '../jws/verify_jws.js'
import { systemClock, type Clock } from '../time/clock.js'
import { OAuthError, UnauthorizedClient } from './errors.js'
import type { ExchangePolicy } from './policy.js'
import type { AuthenticatedClient } from './types.js'
import { verifyAccessToken, type TokenStatus } from './verify_access_token.js'

/** RFC 7662 §2.2; `active: false` carries nothing else. */
export type IntrospectionResponse =
  | { readonly active: false }
  | {
      readonly active: true
      readonly iss: string
      readonly sub: string
      readonly aud: readonly string[]
      readonly client_id: string
      readonly scope: string
      readonly exp: number
      readonly iat: number | undefined
      readonly jti: string
      readonly token_type: 'Bearer' | 'DPoP'
      readonly act?: unknown
      readonly may_act?: unknown
      readonly cnf?: unknown
    }

export interface IntrospectorDeps {
  readonly policy: Pick<ExchangePolicy, 'trustedIssuers' | 'clockSkewSeconds' | 'targets'>
  readonly verifier: JwsVerifier
  readonly status: TokenStatus
  readonly now?: Clock
}

export type Introspector = (input: {
  readonly token: string
  readonly client: AuthenticatedClient
}) => Promise<IntrospectionResponse>

const INACTIVE: IntrospectionResponse = Object.freeze({ active: false })

export function createIntrospector(deps: IntrospectorDeps): Introspector {
  const { policy, verifier, status } = deps
  const clock = deps.now ?? systemClock
  return async function introspect({ token, client }) {
    if (!policy.targets.has(client.clientId)) {
      throw new UnauthorizedClient({
        description: 'only resource servers may introspect tokens',
        detail: `client ${client.clientId} is not a configured target`,
      })
    }
    if (typeof token !== 'string' || token === '' || token.length > 8192) return INACTIVE
    let verified
    try {
      verified = await verifyAccessToken(token, 'subject', {
        verifier,
        // The resource server asks what the token is; its binding is reported (cnf), not used.
        boundTokens: 'inspect',
        subjectStatus: status,
        policy,
        now: Math.floor(clock()),
      })
    } catch (err) {
      // Invalid, expired, revoked, not ours: all one answer. Keys that cannot be read right now
      // are not a verdict on the token: the caller retries.
      if (err instanceof OAuthError && err.error !== 'temporarily_unavailable') return INACTIVE
      throw err
    }
    if (!verified.aud.includes(client.clientId)) return INACTIVE
    const claims = verified.token
    return Object.freeze({
      active: true,
      iss: verified.iss,
      sub: verified.sub,
      aud: verified.aud,
      client_id: verified.clientId,
      scope: verified.scopes.join(' '),
      exp: verified.exp,
      iat: typeof claims.iat === 'number' ? claims.iat : undefined,
      jti: verified.jti,
      token_type: verified.jkt === undefined ? 'Bearer' : 'DPoP',
      ...(claims.act === undefined ? {} : { act: claims.act }),
      ...(claims.may_act === undefined ? {} : { may_act: claims.may_act }),
      ...(claims.cnf === undefined ? {} : { cnf: claims.cnf }),
    })
  }
}
