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

export interface OidcStorage {
  /** For logs and readiness: `sqlite` or `postgres`. */
  readonly kind: 'sqlite' | 'postgres'
  /** The adapter class oidc-provider instantiates once per model name. */
  readonly Adapter: new (model: string) => OidcAdapter
  /**
   * The row `model`/`id` while it exists unexpired and, when it names a grant, that `Grant` row
   * does too — else undefined. One indexed query per call, the payload never parsed in
   * JavaScript: only its `parentJti` is read (the check on every exchange's subject, once per hop
   * of its delegation chain).
   */
  findLiveWithGrant(model: string, id: string): Promise<{ readonly parentJti?: string } | undefined>
  /** Deletes expired rows; resolves with how many. */
  sweepExpired(): Promise<number>
  /** Resolves when the storage answers (readiness), rejects otherwise. */
  ping(): Promise<void>
  close(): Promise<void>
}
