/**
 * Where the embedded IdP keeps oidc-provider's models (sessions, grants, interactions, codes,
 * refresh tokens) and onbehalf's issued-token records: SQLite in DATA_DIR by default
 * (sqlite_adapter.ts), PostgreSQL when `DATABASE_URL` is set (postgres_adapter.ts), so several
 * IdP instances share them.
 */
export type Payload = Record<string, unknown>

export interface OidcAdapter {
  upsert(id: string, payload: Payload, expiresIn?: number): Promise<void>
  find(id: string): Promise<Payload | undefined>
  findByUserCode(userCode: string): Promise<Payload | undefined>
  findByUid(uid: string): Promise<Payload | undefined>
  consume(id: string): Promise<void>
  destroy(id: string): Promise<void>
  revokeByGrantId(grantId: string): Promise<void>
}

/**
 * A user's delegation to an agent (src/idp/delegations.ts): who (`sub`), to which client, at which
 * service (`audience`), what (`scopes`), until when, and the oidc-provider grant it created.
 */
export interface DelegationRecord {
  readonly id: string
  readonly sub: string
  readonly clientId: string
  readonly audience: string
  readonly scopes: readonly string[]
  readonly grantId: string
  /** Seconds since the epoch. */
  readonly createdAt: number
  readonly expiresAt: number
}

/** A `delegation` row as both adapters read it. */
export interface DelegationRow {
  id: string
  sub: string
  client_id: string
  audience: string
  scopes: string
  grant_id: string
  created_at: number | string
  expires_at: number | string
}

/** A `delegation` row as a record (both adapters). */
export function toDelegation(row: DelegationRow): DelegationRecord {
  return Object.freeze({
    id: row.id,
    sub: row.sub,
    clientId: row.client_id,
    audience: row.audience,
    scopes: Object.freeze(row.scopes.split(' ').filter(Boolean)),
    grantId: row.grant_id,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  })
}

/** The `delegation` table: only unexpired rows are ever returned. */
export interface DelegationRows {
  insert(record: DelegationRecord): Promise<void>
  /** The user's live delegations, newest first. */
  listBySub(sub: string): Promise<DelegationRecord[]>
  /** The live delegation that created this grant. */
  findByGrant(grantId: string): Promise<DelegationRecord | undefined>
  /** Deletes the user's delegation `id`; resolves with it, undefined when the user has none such. */
  deleteOwned(sub: string, id: string): Promise<DelegationRecord | undefined>
}

/**
 * One JWT access token this IdP issued (issued_tokens.ts): its `jti`, the grant it lives with, the
 * token it was exchanged from.
 */
export interface IssuedTokenRow {
  readonly jti: string
  readonly grantId?: string
  readonly parentJti?: string
  readonly clientId: string
  readonly sub?: string
  /** Seconds since the epoch; from then the row is ignored, and swept. None: kept until revoked. */
  readonly expiresAt?: number
}

/** A token exchanged from `parentJti`: its grant is its parent's, read when it is stored. */
/** An `issued_token` row as both adapters read it (PostgreSQL's BIGINT arrives as a string). */
export interface IssuedTokenColumns {
  jti: string
  grant_id: string | null
  parent_jti: string | null
  client_id: string
  sub: string | null
  expires_at: number | string | null
}

/** An `issued_token` row as a record (both adapters). */
export function toIssuedToken(row: IssuedTokenColumns): IssuedTokenRow {
  return {
    jti: row.jti,
    clientId: row.client_id,
    ...(row.grant_id === null ? {} : { grantId: row.grant_id }),
    ...(row.parent_jti === null ? {} : { parentJti: row.parent_jti }),
    ...(row.sub === null ? {} : { sub: row.sub }),
    ...(row.expires_at === null ? {} : { expiresAt: Number(row.expires_at) }),
  }
}

export type ExchangedTokenRow = Omit<IssuedTokenRow, 'grantId' | 'parentJti'> & {
  readonly parentJti: string
}

/**
 * `insertExchanged` found no row for the parent: it was revoked (or swept) after it was checked.
 * The exchanged token must not leave.
 */
export class ParentTokenNotFound extends Error {
  static readonly code = 'ERR_PARENT_TOKEN_NOT_FOUND'
  readonly code = ParentTokenNotFound.code
  override name = 'ParentTokenNotFound'
}

/**
 * The `issued_token` table: one row per token, columns only (no JSON payload). Writes resolve once
 * the row is stored (in SQLite: committed).
 */
export interface IssuedTokenRows {
  insert(row: IssuedTokenRow): Promise<void>
  /**
   * Stores a token exchanged from `row.parentJti` with its parent's grant, read by the statement
   * that writes it: no separate read, and the grant is the one the parent has at that moment.
   * Rejects with ParentTokenNotFound when the parent has no row.
   */
  insertExchanged(row: ExchangedTokenRow): Promise<void>
  /** The unexpired row, else undefined. */
  find(jti: string): Promise<IssuedTokenRow | undefined>
  /**
   * The token's row while it exists unexpired and, when it names a grant, that `Grant` row of
   * oidc_model does too — else undefined. One indexed query: the check of every exchange's
   * subject, once per hop of its delegation chain.
   */
  findLive(jti: string): Promise<{ readonly parentJti?: string } | undefined>
  delete(jti: string): Promise<void>
}

export interface OidcStorage {
  /** Users' delegations to agents. */
  readonly delegations: DelegationRows
  /**
   * Tokens this IdP issued. `Adapter(...).revokeByGrantId(grantId)` deletes those of the grant too
   * (oidc-provider calls it on logout and refresh-token revocation).
   */
  readonly issuedTokens: IssuedTokenRows
  /** For logs and readiness: `sqlite` or `postgres`. */
  readonly kind: 'sqlite' | 'postgres'
  /** The adapter class oidc-provider instantiates once per model name. */
  readonly Adapter: new (model: string) => OidcAdapter
  /** Deletes expired rows (every table); resolves with how many. */
  sweepExpired(): Promise<number>
  /** Resolves when the storage answers (readiness), rejects otherwise. */
  ping(): Promise<void>
  close(): Promise<void>
}
