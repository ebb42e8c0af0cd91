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
import type { OidcStorage } from './oidc_storage.js'

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
  /**
   * Stores the record; resolves when it is stored. A caller that cannot wait (oidc-provider's
   * synchronous `access_token.issued` event) awaits `settled()` before the token leaves.
   */
  record(token: IssuedTokenRecord): Promise<void>
  /** Resolves when every record started so far is stored (rejects if one failed). */
  settled(): Promise<void>
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

  // Records being written. With several instances the token's next stop may be another instance,
  // which must find the record: the token is never handed out before its record is stored.
  const pending = new Set<Promise<void>>()

  return {
    record(token) {
      const ttl = token.exp ? token.exp - now() : undefined
      if (ttl !== undefined && ttl <= 0) return Promise.resolve()
      const write = tokens.upsert(token.jti, { ...token }, ttl)
      pending.add(write)
      const forget = () => pending.delete(write)
      write.then(forget, forget)
      return write
    },
    async settled() {
      await Promise.all([...pending])
    },
    find,
    revoke: (jti) => tokens.destroy(jti),
    // One indexed query per hop: the record lives, its grant lives (the record's grant_id column
    // is its payload's grantId, the adapter writes both), and it names its parent, if any.
    async isActive(jti) {
      let current: string | undefined = jti
      for (let depth = 0; current !== undefined; depth++) {
        if (depth > MAX_PARENTS) return false
        const live = await storage.findLiveWithGrant(MODEL, current)
        if (live === undefined) return false
        current = live.parentJti
      }
      return true
    },
  }
}
