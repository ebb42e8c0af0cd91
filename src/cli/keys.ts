/** `onbehalf keys rotate`: a new active signing key; retired keys stay published for their window. */
import { join } from 'node:path'
import { loadDotEnv, loadEnv } from '../config/env.js'
import { RETIRED_KEY_PUBLISH_SECONDS, rotateKeys } from '../idp/keys.js'

export function runRotateKeys(): number {
  loadDotEnv()
  const env = loadEnv()
  const keys = rotateKeys({
    file: join(env.DATA_DIR, 'idp-keys.json'),
    publishRetiredForSeconds: RETIRED_KEY_PUBLISH_SECONDS,
  })
  console.log(`active signing key: ${keys.active.kid}`)
  console.log(`published keys: ${keys.keys.map((key) => key.kid).join(', ')}`)
  console.log('restart the IdP to sign with the new key')
  return 0
}
