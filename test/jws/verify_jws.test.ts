import assert from 'node:assert/strict'
import { createSecretKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { test } from 'node:test'
import { SignJWT, UnsecuredJWT, importPKCS8 } from 'jose'
import { createJwsSigner } from '../../src/jws/sign_jws.js'
import {
  createJwsVerifier,
  JwsVerificationError,
  type JwsFailureReason,
} from '../../src/jws/verify_jws.js'
import { attackerKeys, attackerSigner, keys, signer, verifier } from '../exchange/helpers.js'

const payload = { iss: 'https://idp.example', sub: 'alice' }

function rejectsWith(reason: JwsFailureReason) {
  return (err: unknown): true => {
    assert.ok(err instanceof JwsVerificationError, String(err))
    assert.equal(err.reason, reason)
    return true
  }
}

function forge(header: object, body: object, signature = 'AAAA'): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${encode(header)}.${encode(body)}.${signature}`
}

test('verify when signed by our ES256 signer then returns header and payload', async () => {
  const { header, payload: verified } = await verifier.verify(
    signer.sign({ typ: 'at+jwt' }, payload),
  )
  assert.deepEqual(verified, payload)
  assert.equal(header.alg, 'ES256')
  assert.equal(header.kid, 'k1')
  assert.equal(header.typ, 'at+jwt')
})

test('verify when signed by jose with the same key then interoperates', async () => {
  const pem = keys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
    .sign(await importPKCS8(pem, 'ES256'))
  assert.deepEqual((await verifier.verify(token)).payload, payload)
})

test('verify when signature tampered then signature_invalid', async () => {
  const token = signer.sign({}, payload)
  const [h, , s] = token.split('.')
  const body = Buffer.from(JSON.stringify({ ...payload, sub: 'mallory' })).toString('base64url')
  await assert.rejects(verifier.verify(`${h}.${body}.${s}`), rejectsWith('signature_invalid'))
  const flipped = s!.slice(0, -2) + (s!.endsWith('AA') ? 'BA' : 'AA')
  await assert.rejects(
    verifier.verify(`${h}.${token.split('.')[1]}.${flipped}`),
    rejectsWith('signature_invalid'),
  )
})

test('verify when alg none (jose UnsecuredJWT) then alg_not_allowed', async () => {
  const token = new UnsecuredJWT(payload).encode()
  await assert.rejects(verifier.verify(token), rejectsWith('alg_not_allowed'))
})

test('verify when HS256 signed with the public key bytes then alg_not_allowed', async () => {
  const publicPem = keys.publicKey.export({ format: 'pem', type: 'spki' })
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
    .sign(new Uint8Array(Buffer.from(publicPem)))
  await assert.rejects(verifier.verify(token), rejectsWith('alg_not_allowed'))
})

test('verify when resolver returns a secret key then key_mismatch (no RS/HS confusion)', async () => {
  const confused = createJwsVerifier({
    algorithms: ['ES256'],
    resolveKey: () => createSecretKey(Buffer.alloc(32)),
  })
  await assert.rejects(confused.verify(signer.sign({}, payload)), rejectsWith('key_mismatch'))
})

test('verify when crit header present then crit_unsupported', async () => {
  const token = signer.sign({ crit: ['exp'], exp: 1 }, payload)
  await assert.rejects(verifier.verify(token), rejectsWith('crit_unsupported'))
})

for (const name of ['jku', 'x5u', 'jwk']) {
  test(`verify when ${name} header present then key_header_present`, async () => {
    const value =
      name === 'jwk' ? keys.publicKey.export({ format: 'jwk' }) : 'https://evil.example/jwks'
    const token = signer.sign({ [name]: value }, payload)
    await assert.rejects(verifier.verify(token), rejectsWith('key_header_present'))
  })
}

test('verify when kid unknown then key_not_found', async () => {
  await assert.rejects(
    verifier.verify(attackerSigner.sign({}, payload)),
    rejectsWith('key_not_found'),
  )
})

test('verify when attacker key under our kid then signature_invalid', async () => {
  const impostor = createJwsSigner({ alg: 'ES256', kid: 'k1', privateKey: attackerKeys.privateKey })
  await assert.rejects(
    verifier.verify(impostor.sign({}, payload)),
    rejectsWith('signature_invalid'),
  )
})

test('verify when key is on the wrong curve for alg then key_mismatch', async () => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  const wrong = createJwsVerifier({ algorithms: ['ES256'], resolveKey: () => p384.publicKey })
  await assert.rejects(wrong.verify(signer.sign({}, payload)), rejectsWith('key_mismatch'))
})

test('verify when resolver gets iss, kid and alg then it chooses the key', async () => {
  const seen: unknown[] = []
  const spy = createJwsVerifier({
    algorithms: ['ES256'],
    resolveKey: (input) => {
      seen.push(input)
      return keys.publicKey
    },
  })
  await spy.verify(signer.sign({}, payload))
  assert.deepEqual(seen, [{ iss: 'https://idp.example', kid: 'k1', alg: 'ES256' }])
})

for (const [label, token, reason] of [
  ['two segments', 'a.b', 'malformed'],
  ['four segments', 'a.b.c.d', 'malformed'],
  ['header not base64url', '%%%.e30.AAAA', 'header_invalid'],
  ['header padded', forge({ alg: 'ES256' }, payload).replace('.', '=.'), 'header_invalid'],
  ['header not JSON', `${Buffer.from('nope').toString('base64url')}.e30.AAAA`, 'header_invalid'],
  ['header an array', forge([] as object, payload), 'header_invalid'],
  ['alg missing', forge({ kid: 'k1' }, payload), 'header_invalid'],
  ['payload an array', forge({ alg: 'ES256', kid: 'k1' }, [1]), 'payload_invalid'],
  [
    'payload not JSON',
    `${forge({ alg: 'ES256' }, {}).split('.')[0]}.${Buffer.from('x').toString('base64url')}.AAAA`,
    'payload_invalid',
  ],
  [
    'signature wrong length',
    forge({ alg: 'ES256', kid: 'k1' }, payload, 'AAAA'),
    'signature_invalid',
  ],
  ['kid not a string', forge({ alg: 'ES256', kid: 7 }, payload), 'header_invalid'],
] as const) {
  test(`verify when ${label} then ${reason}`, async () => {
    await assert.rejects(verifier.verify(token), rejectsWith(reason))
  })
}

test('createJwsVerifier when algorithms include none or HS256 then TypeError', () => {
  for (const alg of ['none', 'HS256']) {
    assert.throws(
      () => createJwsVerifier({ algorithms: [alg], resolveKey: () => undefined }),
      (err: unknown) => err instanceof TypeError && /not supported/.test(err.message),
    )
  }
  assert.throws(() => createJwsVerifier({ algorithms: [], resolveKey: () => undefined }), TypeError)
})

for (const [alg, make] of [
  ['ES384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
  ['ES512', () => generateKeyPairSync('ec', { namedCurve: 'P-521' })],
  ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ['PS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ['EdDSA', () => generateKeyPairSync('ed25519')],
] as const) {
  test(`sign and verify round-trip with ${alg}`, async () => {
    const pair: { privateKey: KeyObject; publicKey: KeyObject } = make()
    const s = createJwsSigner({ alg, kid: 'x', privateKey: pair.privateKey })
    const v = createJwsVerifier({ algorithms: [alg], resolveKey: () => pair.publicKey })
    assert.deepEqual((await v.verify(s.sign({}, payload))).payload, payload)
  })
}

test('verify when alg valid but not pinned then alg_not_allowed', async () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const token = createJwsSigner({ alg: 'RS256', kid: 'k1', privateKey: pair.privateKey }).sign(
    {},
    payload,
  )
  await assert.rejects(verifier.verify(token), rejectsWith('alg_not_allowed'))
})
