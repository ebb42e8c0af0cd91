import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { test } from 'node:test'
import { createJwsSigner } from '../../src/jws/sign_jws.js'
import { decodeHeader, keys } from '../exchange/helpers.js'

test('sign when header extras try to override alg or kid then the signer wins', () => {
  const signer = createJwsSigner({ alg: 'ES256', kid: 'k1', privateKey: keys.privateKey })
  const header = decodeHeader(signer.sign({ alg: 'none', kid: 'evil', typ: 'at+jwt' }, {}))
  assert.deepEqual(header, { alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
})

test('createJwsSigner when key does not fit alg then TypeError', () => {
  assert.throws(
    () => createJwsSigner({ alg: 'ES256', kid: 'k1', privateKey: keys.publicKey }),
    TypeError,
  )
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey
  assert.throws(() => createJwsSigner({ alg: 'ES256', kid: 'k1', privateKey: p384 }), TypeError)
  assert.throws(
    () => createJwsSigner({ alg: 'HS256', kid: 'k1', privateKey: keys.privateKey }),
    TypeError,
  )
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey
  assert.throws(() => createJwsSigner({ alg: 'RS256', kid: 'k1', privateKey: small }), TypeError)
})
