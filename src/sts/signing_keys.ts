/**
 * The STS's own signing keys: the IdP's key store (src/idp/keys.ts) on a file in a directory that
 * every instance of the STS shares. The file is the only state: each call looks at it (one
 * `stat`) and reloads it when it changed, so a key created or rotated by any instance (or by
 * `onbehalf sts rotate-keys`) is used and published by all of them at once. Nothing lives only in
 * one instance's memory.
 *
 * @example
 * ```ts
 * const keys = openSharedSigningKeys({ directory: 'data/sts', publishRetiredForSeconds: 7200 })
 * const signer = keys.signer() // the active key's signer
 * const jwks = keys.current().publicJwks()
 * ```
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { createJwsSigner, type JwsSigner } from '../jws/sign_jws.js'
import { openKeyStore, rotateKeys, type KeyStore, type KeyStoreOptions } from '../idp/keys.js'

export const STS_KEY_FILE = 'sts-keys.json'

export interface SharedSigningKeysOptions {
  readonly directory: string
  readonly publishRetiredForSeconds: number
  /** Seconds since the epoch (key creation and retirement times). */
  readonly now?: () => number
}

export interface SharedSigningKeys {
  readonly file: string
  /** The key store as the file holds it now. */
  current(): KeyStore
  /** A signer for the active key of `current()`. */
  signer(): JwsSigner
}

export function stsKeyStoreOptions(options: SharedSigningKeysOptions): KeyStoreOptions {
  const now = options.now
  return {
    file: join(options.directory, STS_KEY_FILE),
    publishRetiredForSeconds: options.publishRetiredForSeconds,
    now: now === undefined ? undefined : () => Math.floor(now()),
  }
}

export function openSharedSigningKeys(options: SharedSigningKeysOptions): SharedSigningKeys {
  const storeOptions = stsKeyStoreOptions(options)
  const file = storeOptions.file
  let store = openKeyStore(storeOptions)
  let version = fileVersion(file)
  let signer = signerFor(store)

  function current(): KeyStore {
    const seen = fileVersion(file)
    if (seen !== version) {
      store = openKeyStore(storeOptions)
      version = fileVersion(file) // after a possible prune rewrite
      signer = signerFor(store)
    }
    return store
  }

  return Object.freeze({
    file,
    current,
    signer: () => {
      current()
      return signer
    },
  })
}

/** Makes a new key active in the shared file; every instance signs with it from its next call. */
export function rotateStsKeys(options: SharedSigningKeysOptions): KeyStore {
  return rotateKeys(stsKeyStoreOptions(options))
}

function signerFor(store: KeyStore): JwsSigner {
  const { kid, alg, privateKey } = store.active
  return createJwsSigner({ alg, kid, privateKey })
}

function fileVersion(file: string): string {
  const stat = statSync(file, { bigint: true })
  return `${stat.ino}:${stat.size}:${stat.mtimeNs}`
}
