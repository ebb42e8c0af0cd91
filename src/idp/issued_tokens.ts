/**
 * The IdP's record of the JWT access tokens it issued (by `jti`), each tied to the grant it came
 * from. A subject token is active only while its record exists and its grant still lives:
 * logout and refresh-token revocation revoke the grant (oidc-provider deletes every row of that
 * grant), revoking the access token itself deletes its record. Tokens minted by exchange inherit
 * the grant of their subject token and name it as their parent (`parentJti`), so they die with
 * either: revoking a grant or any token of a delegation chain makes every token exchanged from it
 * inactive, however far down the chain (RFC 7662 introspection and every later exchange see it).
 */
import { systemClock, type Clock } from '../time/clock.js'
import type { OidcStorage } from './sqlite_adapter.js'

export interface IssuedTokenRecord {
  jti: string
  grantId?: string
  clientId: string
  sub?: string
  /** Seconds since the epoch; the record is kept until then. */
  exp?: number
  /** `jti` of the token this one was exchanged from: it lives only while that one does. */
  parentJti?: string
}

/** Longest parent chain followed; deeper than any chain the engine issues (MAX_ACT_NESTING). */
const MAX_PARENTS = 16

export interface IssuedTokenRegistry {
  record(token: IssuedTokenRecord): void
  find(jti: string): Promise<IssuedTokenRecord | undefined>
  revoke(jti: string): Promise<void>
  /** True while the token's record exists and its grant (if any) has not been revoked or expired. */
  isActive(jti: string): Promise<boolean>
}

const MODEL = 'IssuedAccessToken'

export function createIssuedTokenRegistry(
  storage: OidcStorage,
  clock: Clock = systemClock,
): IssuedTokenRegistry {
  const now = () => Math.floor(clock())
  const tokens = new storage.Adapter(MODEL)

  async function find(jti: string): Promise<IssuedTokenRecord | undefined> {
    return (await tokens.find(jti)) as IssuedTokenRecord | undefined
  }

  return {
    record(token) {
      const ttl = token.exp ? token.exp - now() : undefined
      if (ttl !== undefined && ttl <= 0) return
      // better-sqlite3 is synchronous: the row exists when this returns, before the token leaves.
      void tokens.upsert(token.jti, { ...token }, ttl)
    },
    find,
    revoke: (jti) => tokens.destroy(jti),
    // One indexed query per hop: the record lives, its grant lives (the record's grant_id column
    // is its payload's grantId, the adapter writes both), and it names its parent, if any.
    async isActive(jti) {
      let current: string | undefined = jti
      for (let depth = 0; current !== undefined; depth++) {
        if (depth > MAX_PARENTS) return false
        const live = storage.findLiveWithGrant(MODEL, current)
        if (live === undefined) return false
        current = live.parentJti
      }
      return true
    },
  }
}
