/**
 * `onbehalf keys rotate [--create]`: a new active IdP signing key in `${DATA_DIR}/idp-keys.json`;
 * retired keys stay published for their window. A running IdP watches the file and signs with the
 * new key within a second, without a restart.
 *
 * A rotation that finds no key store refuses (exit 1): run elsewhere or with another DATA_DIR, it
 * would otherwise create keys no IdP uses and report success. `--create` starts a new key store.
 */
import { isAbsolute, resolve } from 'node:path'
import { loadDotEnv, loadEnv } from '../config/env.js'
import { idpKeyFile, openIdpKeyStore } from '../idp/keys.js'
import { rotateKeyStore } from './rotate_keys.js'

export const KEYS_USAGE = 'usage: onbehalf keys rotate [--create]'

export async function runRotateKeys(argv: readonly string[] = []): Promise<number> {
  const create = argv.includes('--create')
  if (argv.some((arg) => arg !== '--create')) {
    console.error(KEYS_USAGE)
    return 2
  }
  loadDotEnv()
  const env = loadEnv()
  return rotateKeyStore({
    what: 'IdP',
    file: resolve(idpKeyFile(env.DATA_DIR)),
    hint: isAbsolute(env.DATA_DIR)
      ? `DATA_DIR=${env.DATA_DIR}`
      : `DATA_DIR=${env.DATA_DIR}, resolved from ${process.cwd()}`,
    create,
    open: (mode) => openIdpKeyStore({ dataDir: env.DATA_DIR, create: mode }),
  })
}
