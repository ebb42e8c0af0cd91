/**
 * Where the STS keeps its signing keys: `sts-keys.json` in the key directory that every instance
 * shares. The key store (src/keys/signing_key_store.ts, the IdP's too) watches the file, so a key
 * created or rotated by any instance or by `onbehalf sts rotate-keys` is used and published by all
 * of them without a restart.
 */
import { join } from 'node:path'
import type { Logger } from '../log/logger.js'
import { createFileKeyBackend } from '../keys/file_key_backend.js'
import {
  openSigningKeyStore,
  type SigningKeyBackend,
  type SigningKeyStore,
} from '../keys/signing_key_store.js'

export const STS_KEY_FILE = 'sts-keys.json'

export interface StsKeyStoreOptions {
  readonly directory: string
  readonly publishRetiredForSeconds: number
  /** `if-missing` when the STS starts; `never` for a rotation, which must find the STS's keys. */
  readonly create?: 'if-missing' | 'never'
  /** Seconds since the epoch (key creation and retirement times). */
  readonly now?: () => number
  readonly logger?: Logger
  /** Set: where the keys live instead (PostgreSQL with DATABASE_URL, shared by every instance). */
  readonly backend?: SigningKeyBackend
}

export function openStsKeyStore(options: StsKeyStoreOptions): Promise<SigningKeyStore> {
  return openSigningKeyStore({
    backend:
      options.backend ?? createFileKeyBackend({ file: join(options.directory, STS_KEY_FILE) }),
    publishRetiredForSeconds: options.publishRetiredForSeconds,
    create: options.create ?? 'if-missing',
    now: options.now,
    logger: options.logger,
  })
}
