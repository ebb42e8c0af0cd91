/**
 * The IdP's record of the JWT access tokens it issued (by `jti`), each tied to the grant it came
 * from. A subject token is active only while its record exists and its grant still lives:
 * logout and refresh-token revocation revoke the grant (oidc-provider deletes every row of that
 * grant), revoking the access token itself deletes its record. Tokens minted by exchange inherit
 * the grant of their subject token, so they die with it too.
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
}

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
  const grants = new storage.Adapter('Grant')

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
    async isActive(jti) {
      const record = await find(jti)
      if (!record) return false
      if (record.grantId === undefined) return true
      return (await grants.find(record.grantId)) !== undefined
    },
  }
}
