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
import { createPostgresKeyBackend } from '../keys/postgres_key_backend.js'
import { openPostgresPool } from '../storage/postgres.js'
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
  if (env.DATABASE_URL) {
    // The IdP instances keep their keys in PostgreSQL: rotate there, every instance follows.
    const pool = openPostgresPool(env.DATABASE_URL, { name: 'cli', max: 2 })
    try {
      return await rotateKeyStore({
        what: 'IdP',
        file: 'PostgreSQL (DATABASE_URL)',
        hint: 'DATABASE_URL is set',
        create,
        exists: async () =>
          (await (await createPostgresKeyBackend({ pool, name: 'idp' })).version()) !== undefined,
        open: (mode) => openIdpKeyStore({ dataDir: env.DATA_DIR, create: mode, pool }),
      })
    } finally {
      await pool.end()
    }
  }
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
