/**
 * The IdP's record of the JWT access tokens it issued (by `jti`), each tied to the grant it came
 * from. A subject token is active only while its record exists and its grant still lives:
 * logout and refresh-token revocation revoke the grant (oidc-provider has the storage delete every
 * row of that grant, issued-token records included), revoking the access token itself deletes its
 * record. Tokens minted by exchange inherit the grant of their subject token (the write reads it
 * from the subject's record) and name it as their parent (`parentJti`), so they die with either:
 * revoking a grant or any token of a delegation chain makes every token exchanged from it
 * inactive, however far down the chain (RFC 7662 introspection and every later exchange see it).
 */
import { systemClock, type Clock } from '../time/clock.js'
import type { IssuedTokenRow, OidcStorage } from './oidc_storage.js'

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

/** A token exchanged from `parentJti`: its grant is not given, it is the parent's. */
export type ExchangedTokenRecord = Omit<IssuedTokenRecord, 'grantId' | 'parentJti'> & {
  parentJti: string
}

/** Longest parent chain followed; deeper than any chain the engine issues (MAX_ACT_NESTING). */
const MAX_PARENTS = 16

export interface IssuedTokenRegistry {
  /**
   * Stores the record; resolves when it is stored. A caller that cannot wait (oidc-provider's
   * synchronous `access_token.issued` event) awaits `settled()` before the token leaves.
   */
  record(token: IssuedTokenRecord): Promise<void>
  /**
   * Stores the record of a token exchanged from `parentJti`, with the parent's grant, taken by
   * the write itself (no read of the parent first). Rejects (ParentTokenNotFound) when the parent
   * has no record any more — revoked after it was checked: the token must not leave.
   */
  recordExchanged(token: ExchangedTokenRecord): Promise<void>
  /** Resolves when every record started so far is stored (rejects if one failed). */
  settled(): Promise<void>
  find(jti: string): Promise<IssuedTokenRecord | undefined>
  revoke(jti: string): Promise<void>
  /** True while the token's record exists and its grant (if any) has not been revoked or expired. */
  isActive(jti: string): Promise<boolean>
}

export function createIssuedTokenRegistry(
  storage: OidcStorage,
  clock: Clock = systemClock,
): IssuedTokenRegistry {
  const now = () => Math.floor(clock())
  const tokens = storage.issuedTokens

  // Records being written. With several instances the token's next stop may be another instance,
  // which must find the record: the token is never handed out before its record is stored.
  const pending = new Set<Promise<void>>()
  function track(write: Promise<void>): Promise<void> {
    pending.add(write)
    const forget = () => pending.delete(write)
    write.then(forget, forget)
    return write
  }
  /** False when the record has already expired: it is not stored. */
  const stillValid = (exp: number | undefined) => exp === undefined || exp > now()
  const columnsOf = ({ exp, ...token }: IssuedTokenRecord): IssuedTokenRow => ({
    ...token,
    ...(exp === undefined ? {} : { expiresAt: exp }),
  })

  return {
    record(token) {
      if (!stillValid(token.exp)) return Promise.resolve()
      return track(tokens.insert(columnsOf(token)))
    },
    recordExchanged(token) {
      if (!stillValid(token.exp)) return Promise.resolve()
      return track(tokens.insertExchanged({ ...columnsOf(token), parentJti: token.parentJti }))
    },
    async settled() {
      await Promise.all([...pending])
    },
    async find(jti) {
      const row = await tokens.find(jti)
      if (row === undefined) return undefined
      const { expiresAt, ...record } = row
      return expiresAt === undefined ? record : { ...record, exp: expiresAt }
    },
    revoke: (jti) => tokens.delete(jti),
    // One indexed query per hop: the record lives, its grant lives, and it names its parent, if
    // any.
    async isActive(jti) {
      let current: string | undefined = jti
      for (let depth = 0; current !== undefined; depth++) {
        if (depth > MAX_PARENTS) return false
        const live = await tokens.findLive(current)
        if (live === undefined) return false
        current = live.parentJti
      }
      return true
    },
  }
}
