/**
 * The IdP minter (src/idp/minter.ts) records every token it signs before the token leaves: an
 * exchanged token with its subject as parent and the subject's grant, taken by the write itself,
 * and no token at all when the subject lost its record between the grant's check and the mint.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { AccessTokenClaims } from '../../src/exchange/mint.js'
import { createIssuedTokenRegistry, type IssuedTokenRegistry } from '../../src/idp/issued_tokens.js'
import { createIdpMinter } from '../../src/idp/minter.js'
import { ParentTokenNotFound, type OidcStorage } from '../../src/idp/oidc_storage.js'
import { openOidcStorage } from '../../src/idp/sqlite_adapter.js'
import type { JwsSigner } from '../../src/jws/sign_jws.js'

describe('IdP minter records', () => {
  let dir: string
  let storage: OidcStorage
  let registry: IssuedTokenRegistry
  const signer: JwsSigner = { alg: 'ES256', kid: 'test', sign: () => 'signed.token.here' }
  const exp = () => Math.floor(Date.now() / 1000) + 300
  const claims = (jti: string): AccessTokenClaims => ({
    iss: 'http://idp.test',
    sub: 'alice',
    aud: 'http://app-b.test',
    client_id: 'app-b',
    azp: 'app-b',
    scope: 'todos:read',
    iat: Math.floor(Date.now() / 1000),
    exp: exp(),
    jti,
  })

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'onbehalf-minter-'))
    storage = openOidcStorage(join(dir, 'idp.sqlite'))
    registry = createIssuedTokenRegistry(storage)
  })
  after(async () => {
    await storage.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('when a token is exchanged from a live subject then its record names the subject as parent and carries the subject grant', async () => {
    await new storage.Adapter('Grant').upsert('g-1', { accountId: 'alice' }, 3600)
    await registry.record({ jti: 'subject-1', grantId: 'g-1', clientId: 'app-a', exp: exp() })
    const minter = createIdpMinter(() => signer, registry)
    assert.equal(
      await minter.mint({ claims: claims('minted-1'), derivedFromJti: 'subject-1' }),
      'signed.token.here',
    )
    const record = await registry.find('minted-1')
    assert.equal(record?.grantId, 'g-1')
    assert.equal(record?.parentJti, 'subject-1')
    assert.equal(record?.clientId, 'app-b')
    assert.equal(await registry.isActive('minted-1'), true)
  })

  it('when the subject is revoked after its check then the mint fails and no record of the new token exists', async () => {
    await registry.record({ jti: 'subject-2', clientId: 'app-a', exp: exp() })
    await registry.revoke('subject-2')
    const minter = createIdpMinter(() => signer, registry)
    await assert.rejects(
      minter.mint({ claims: claims('minted-2'), derivedFromJti: 'subject-2' }),
      ParentTokenNotFound,
    )
    assert.equal(await registry.find('minted-2'), undefined)
  })

  it('when a token is derived from nothing then it is recorded without grant or parent', async () => {
    const minter = createIdpMinter(() => signer, registry)
    await minter.mint({ claims: claims('minted-3'), derivedFromJti: undefined })
    const record = await registry.find('minted-3')
    assert.equal(record?.grantId, undefined)
    assert.equal(record?.parentJti, undefined)
    assert.equal(await registry.isActive('minted-3'), true)
  })
})
