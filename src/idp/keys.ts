/**
 * Where the embedded IdP keeps its signing keys and how long it publishes retired ones; the key
 * store itself (rotation, reload on change, the file format) is src/keys/signing_key_store.ts,
 * shared with the STS.
 */
import { join } from 'node:path'
import type { Logger } from '../log/logger.js'
import { createFileKeyBackend } from '../keys/file_key_backend.js'
import { createPostgresKeyBackend } from '../keys/postgres_key_backend.js'
import type { PgPool } from '../storage/postgres.js'
import { openSigningKeyStore, type SigningKeyStore } from '../keys/signing_key_store.js'

export { SIGNING_ALGORITHM } from '../keys/signing_key_store.js'

export const IDP_KEY_FILE = 'idp-keys.json'

/**
 * How long a retired key stays in the JWKS: longer than the longest-living JWT the IdP signs
 * (ID tokens, 1 h; access tokens 10 min; refresh tokens are opaque).
 */
export const RETIRED_KEY_PUBLISH_SECONDS = 2 * 3600

export function idpKeyFile(dataDir: string): string {
  return join(dataDir, IDP_KEY_FILE)
}

export interface IdpKeyStoreOptions {
  readonly dataDir: string
  /** `if-missing` when the IdP starts; `never` for a rotation, which must find the IdP's keys. */
  readonly create: 'if-missing' | 'never'
  readonly logger?: Logger
  /** Set (DATABASE_URL): the keys live in PostgreSQL, shared by every IdP instance, not in DATA_DIR. */
  readonly pool?: PgPool
}

export async function openIdpKeyStore(options: IdpKeyStoreOptions): Promise<SigningKeyStore> {
  return openSigningKeyStore({
    backend: options.pool
      ? await createPostgresKeyBackend({ pool: options.pool, name: 'idp' })
      : createFileKeyBackend({ file: idpKeyFile(options.dataDir) }),
    publishRetiredForSeconds: RETIRED_KEY_PUBLISH_SECONDS,
    create: options.create,
    logger: options.logger,
  })
}
