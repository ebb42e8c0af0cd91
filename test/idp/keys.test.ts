import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { openKeyStore, rotateKeys } from '../../src/idp/keys.js'
import { startStack, loginForTokens, exchangeToken } from '../helpers/stack.js'

describe('IdP signing keys', () => {
  it('openKeyStore when no file exists then creates one private key with a thumbprint kid, mode 0600', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'onbehalf-keys-')), 'keys.json')
    const store = openKeyStore({ file, publishRetiredForSeconds: 3600 })
    assert.match(store.active.kid, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.equal(
      openKeyStore({ file, publishRetiredForSeconds: 3600 }).active.kid,
      store.active.kid,
      'persisted across opens',
    )
    assert.equal(store.publicJwks().keys[0]!.d, undefined, 'public JWKS carries no private part')
  })

  it('rotateKeys then the new key signs and the retired key stays published until its window passes', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'onbehalf-keys-')), 'keys.json')
    let now = 1_000_000
    const clock = () => now
    const first = openKeyStore({ file, publishRetiredForSeconds: 3600, now: clock })
    const rotated = rotateKeys({ file, publishRetiredForSeconds: 3600, now: clock })
    assert.notEqual(rotated.active.kid, first.active.kid)
    assert.deepEqual(
      rotated.keys.map((key) => key.kid),
      [rotated.active.kid, first.active.kid],
    )
    now += 3599
    assert.equal(openKeyStore({ file, publishRetiredForSeconds: 3600, now: clock }).keys.length, 2)
    now += 2
    const later = openKeyStore({ file, publishRetiredForSeconds: 3600, now: clock })
    assert.deepEqual(
      later.keys.map((key) => key.kid),
      [rotated.active.kid],
      'expired retired key dropped',
    )
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).keys.length, 1)
  })

  it('a token signed before a rotation still verifies and can still be exchanged after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'onbehalf-rotation-'))
    const before = await startStack({ dataDir })
    const tokens = await loginForTokens(before, { username: 'demo' })
    const oldKid = before.idp.keys.active.kid
    await before.close()

    rotateKeys({ file: join(dataDir, 'idp-keys.json'), publishRetiredForSeconds: 7200 })
    const after = await startStack({ dataDir })
    try {
      assert.notEqual(after.idp.keys.active.kid, oldKid)
      const jwks = createRemoteJWKSet(new URL(`${after.idp.issuer}/jwks`))
      // The issuer URL changed with the new ephemeral port, so check the signature only.
      await jwtVerify(tokens.access_token, jwks, { algorithms: ['ES256'] }).catch(
        (error: { code?: string }) => {
          assert.equal(
            error.code,
            'ERR_JWT_CLAIM_VALIDATION_FAILED',
            'only the claim check may fail, never the signature',
          )
        },
      )
      const kids = (
        (await (await fetch(`${after.idp.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> }
      ).keys.map((key) => key.kid)
      assert.deepEqual(kids, [after.idp.keys.active.kid, oldKid])
      const fresh = await loginForTokens(after, { username: 'demo' })
      const exchanged = await exchangeToken(after, {
        subject_token: fresh.access_token,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        audience: 'app-b',
      })
      assert.equal(exchanged.status, 200)
      const header = JSON.parse(
        Buffer.from(exchanged.body.access_token.split('.')[0], 'base64url').toString(),
      )
      assert.equal(header.kid, after.idp.keys.active.kid, 'new tokens use the new key')
    } finally {
      await after.close()
    }
  })
})
