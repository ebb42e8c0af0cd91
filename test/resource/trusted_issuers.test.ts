import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  createAccessTokenVerifier,
  createTrustedIssuersVerifier,
  ResourceAuthError,
} from '../../src/resource/index.js'
import {
  createTestKey,
  signAccessToken,
  startJwksServer,
  type JwksServer,
  type TestKey,
} from './helpers.js'

const IDP = 'http://localhost:9000'
const STS = 'http://localhost:9100'

describe('createTrustedIssuersVerifier', () => {
  let idpKey: TestKey
  let stsKey: TestKey
  let idpJwks: JwksServer
  let stsJwks: JwksServer
  let verify: ReturnType<typeof createTrustedIssuersVerifier>

  before(async () => {
    ;[idpKey, stsKey] = [await createTestKey('idp'), await createTestKey('sts')]
    ;[idpJwks, stsJwks] = [await startJwksServer([idpKey]), await startJwksServer([stsKey])]
    verify = createTrustedIssuersVerifier([
      createAccessTokenVerifier({ issuer: IDP, audience: 'app-b', jwksUri: idpJwks.url }),
      createAccessTokenVerifier({ issuer: STS, audience: 'app-b', jwksUri: stsJwks.url }),
    ])
  })
  after(async () => {
    await idpJwks?.close()
    await stsJwks?.close()
  })

  it("accepts a token of each trusted issuer, verified with that issuer's keys", async () => {
    assert.equal(
      (await verify(await signAccessToken(idpKey, { claims: { iss: IDP } }))).claims.iss,
      IDP,
    )
    assert.equal(
      (await verify(await signAccessToken(stsKey, { claims: { iss: STS } }))).claims.iss,
      STS,
    )
  })

  it("when a token names one trusted issuer but is signed with the other's key then invalid_token", async () => {
    await assert.rejects(
      verify(await signAccessToken(stsKey, { claims: { iss: IDP }, header: { kid: 'idp' } })),
      (error: unknown) => {
        assert.ok(error instanceof ResourceAuthError)
        assert.equal(error.error, 'invalid_token')
        return true
      },
    )
  })

  it('when the issuer is not trusted then invalid_token with a private reason', async () => {
    await assert.rejects(
      verify(await signAccessToken(idpKey, { claims: { iss: 'https://evil.example' } })),
      (error: unknown) => {
        assert.ok(error instanceof ResourceAuthError)
        assert.equal(error.detail, 'issuer is not trusted')
        return true
      },
    )
  })

  it('refuses misuse at creation', () => {
    assert.throws(() => createTrustedIssuersVerifier([]), TypeError)
    const a = createAccessTokenVerifier({
      issuer: IDP,
      audience: 'app-b',
      jwksUri: 'http://127.0.0.1:1/jwks',
    })
    const c = createAccessTokenVerifier({
      issuer: STS,
      audience: 'app-c',
      jwksUri: 'http://127.0.0.1:1/jwks',
    })
    assert.throws(() => createTrustedIssuersVerifier([a, a]), /listed twice/)
    assert.throws(() => createTrustedIssuersVerifier([a, c]), /same audience/)
  })
})
