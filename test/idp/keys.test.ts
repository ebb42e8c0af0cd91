import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { openIdpKeyStore } from '../../src/idp/keys.js'
import { startStack, loginForTokens, exchangeToken } from '../helpers/stack.js'

describe('IdP signing keys', () => {
  it('a token signed before a rotation still verifies and can still be exchanged after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'onbehalf-rotation-'))
    const before = await startStack({ dataDir })
    const tokens = await loginForTokens(before, { username: 'demo' })
    const oldKid = before.idp.keys.active.kid
    await before.close()

    const store = await openIdpKeyStore({ dataDir, create: 'never' })
    await store.rotate()
    await store.close()
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
