import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createJwsMinter, type MintRequest } from '../../src/exchange/mint.js'
import { createJwsSigner } from '../../src/jws/sign_jws.js'
import { decodeHeader, decodePayload, ISSUER, keys, NOW, signer, verifier } from './helpers.js'

const request: MintRequest = {
  claims: {
    iss: ISSUER,
    sub: 'alice',
    aud: 'app-b',
    client_id: 'app-a',
    azp: 'app-a',
    scope: 'todos:read',
    iat: NOW,
    exp: NOW + 300,
    jti: 'new-jti',
  },
  derivedFromJti: 's-jti',
}

test('createJwsMinter when minting then at+jwt signed by the signer kid', async () => {
  const token = await createJwsMinter({ currentSigner: () => signer }).mint(request)
  assert.deepEqual(decodeHeader(token), { typ: 'at+jwt', alg: 'ES256', kid: 'k1' })
  assert.deepEqual(decodePayload(token), request.claims)
  await verifier.verify(token)
})

test('createJwsMinter when the signer changes then the next token uses the new key', async () => {
  let current = signer
  const minter = createJwsMinter({ currentSigner: () => current })
  assert.equal(decodeHeader(await minter.mint(request)).kid, 'k1')
  current = createJwsSigner({ alg: 'ES256', kid: 'k2', privateKey: keys.privateKey })
  assert.equal(decodeHeader(await minter.mint(request)).kid, 'k2')
})

test('createJwsMinter when a record hook is set then it sees the request before the token leaves', async () => {
  const recorded: MintRequest[] = []
  const minter = createJwsMinter({
    currentSigner: () => signer,
    record: (minted) => void recorded.push(minted),
  })
  await minter.mint(request)
  assert.deepEqual(recorded, [request])
  const failing = createJwsMinter({
    currentSigner: () => signer,
    record: () => {
      throw new Error('registry down')
    },
  })
  await assert.rejects(failing.mint(request), /registry down/)
})

test('createJwsMinter when no signer source then TypeError', () => {
  assert.throws(() => createJwsMinter({ currentSigner: undefined as never }), TypeError)
})
