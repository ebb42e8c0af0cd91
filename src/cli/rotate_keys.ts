/**
 * The rotation both `onbehalf keys rotate` (the IdP) and `onbehalf sts rotate-keys` run: open the
 * existing key store (or, when asked, create one), rotate, report what is now published.
 */
import { existsSync } from 'node:fs'
import { SigningKeyStoreError, type SigningKeyStore } from '../keys/signing_key_store.js'

export interface RotateKeyStoreOptions {
  /** "IdP" or "STS", for the messages. */
  readonly what: string
  /** Absolute path of the key file. */
  readonly file: string
  /** Where the path came from, for the refusal ("DATA_DIR=data (relative to /srv)"). */
  readonly hint: string
  readonly create: boolean
  /** Whether a key store exists already; defaults to "the file exists". */
  readonly exists?: () => Promise<boolean>
  readonly open: (create: 'if-missing' | 'never') => Promise<SigningKeyStore>
}

export async function rotateKeyStore(options: RotateKeyStoreOptions): Promise<number> {
  const exists = options.exists ?? (async () => existsSync(options.file))
  const created = options.create && !(await exists())
  let store: SigningKeyStore
  try {
    store = await options.open(options.create ? 'if-missing' : 'never')
  } catch (error) {
    if (error instanceof SigningKeyStoreError && error.code === 'key_store_missing') {
      console.error(
        `no ${options.what} signing keys at ${options.file} (${options.hint}): nothing rotated.\n` +
          `Run this where the ${options.what} runs, with the same DATA_DIR / key directory, ` +
          `or pass --create to start a new key store there.`,
      )
      return 1
    }
    throw error
  }
  try {
    const keys = created ? store.current() : await store.rotate()
    console.log(
      `${created ? 'created' : 'rotated'} ${options.what} signing keys in ${options.file}`,
    )
    console.log(`active signing key: ${keys.active.kid}`)
    console.log(`published keys: ${keys.keys.map((key) => key.kid).join(', ')}`)
    console.log(
      `running ${options.what} instances using this file sign with the new key within a second; no restart needed`,
    )
    return 0
  } finally {
    await store.close()
  }
}
