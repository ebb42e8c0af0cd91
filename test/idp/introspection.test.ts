/**
 * RFC 7662 introspection at the embedded IdP, over real HTTP: a resource server sees the whole
 * delegation chain (`act`), the binding (`cnf`, `token_type: DPoP`) of a token addressed to it;
 * a token addressed elsewhere, a dead token or garbage is `{ active: false }` and nothing more; a
 * caller that is not a resource server is refused, an unauthenticated one is `invalid_client`.
 * Revocation follows the chain: revoking the user's token (or their grant) makes every token
 * exchanged from it inactive, here, at the next exchange, and at a resource server that
 * introspects (the resource kit's `withIntrospection`).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createDpopKey } from '../../src/client/dpop.js'
import {
  createAccessTokenVerifier,
  ResourceAuthError,
  withIntrospection,
} from '../../src/resource/index.js'
import {
  basicAuth,
  decodeJwt,
  exchangeToken,
  loginForTokens,
  startStack,
  type Stack,
} from '../helpers/stack.js'

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'

describe('RFC 7662 introspection at the embedded IdP', () => {
  let stack: Stack
  let policyDir: string
  let endpoint: string

  before(async () => {
    const policy = JSON.parse(readFileSync('config/policy.json', 'utf8'))
    // A client that is not a resource server (no target is named after it), and App C as a
    // client of its own so that it can introspect (the shipped policy has it as a target only).
    policy.clients.reporter = {
      name: 'Reporter',
      secretEnv: 'APP_A_CLIENT_SECRET',
      redirectUris: ['${APP_A_URL}/reporter/callback'],
      loginAudience: 'app-a',
      tokenExchange: { enabled: false },
    }
    policy.clients['app-c'] = {
      name: 'App C',
      secretEnv: 'APP_B_CLIENT_SECRET',
      redirectUris: ['${APP_C_URL}/auth/callback'],
      loginAudience: 'app-c',
      tokenExchange: { enabled: false },
    }
    policyDir = mkdtempSync(join(tmpdir(), 'onbehalf-introspection-'))
    writeFileSync(join(policyDir, 'policy.json'), JSON.stringify(policy))
    stack = await startStack({ env: { POLICY_FILE: join(policyDir, 'policy.json') } })
    endpoint = `${stack.idp.issuer}/token/introspection`
  })
  after(async () => {
    await stack.close()
    rmSync(policyDir, { recursive: true, force: true })
  })

  const secretOf = (clientId: string) =>
    clientId === 'app-b' || clientId === 'app-c'
      ? stack.env.APP_B_CLIENT_SECRET
      : stack.env.APP_A_CLIENT_SECRET

  async function introspect(token: string, clientId: string | null, secret?: string) {
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
    }
    if (clientId !== null) headers.authorization = basicAuth(clientId, secret ?? secretOf(clientId))
    const response = await fetch(endpoint, {
      method: 'POST',
      headers,
      body: new URLSearchParams({ token }),
    })
    return {
      status: response.status,
      cacheControl: response.headers.get('cache-control'),
      body: (await response.json()) as Record<string, unknown>,
    }
  }

  /** A user token and App A's exchanged token for App B, and App B's for App C from that one. */
  async function chain(options: { dpop?: boolean } = {}) {
    const login = await loginForTokens(stack, {
      scope: 'openid offline_access todos:read activity:read',
    })
    const key = options.dpop ? await createDpopKey() : undefined
    const forB = await exchangeToken(
      stack,
      {
        subject_token: login.access_token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
        scope: 'todos:read activity:read',
      },
      key
        ? {
            headers: {
              dpop: await key.proof({ method: 'POST', url: `${stack.idp.issuer}/token` }),
            },
          }
        : {},
    )
    assert.equal(forB.status, 200, JSON.stringify(forB.body))
    const forC = key
      ? undefined
      : await exchangeToken(
          stack,
          {
            subject_token: forB.body.access_token,
            subject_token_type: ACCESS_TOKEN,
            audience: 'app-c',
            scope: 'activity:read',
          },
          { clientId: 'app-b' },
        )
    if (forC) assert.equal(forC.status, 200, JSON.stringify(forC.body))
    return {
      login,
      forB: forB.body.access_token as string,
      forC: forC?.body.access_token as string,
      key,
    }
  }

  it('introspectWhenTheAudienceAsksThenActiveWithTheWholeChain', async () => {
    const { forC, login } = await chain()
    const answer = await introspect(forC, 'app-c')
    assert.equal(answer.status, 200)
    assert.equal(answer.cacheControl, 'no-store')
    const claims = decodeJwt(forC).payload
    assert.deepEqual(answer.body, {
      active: true,
      iss: stack.idp.issuer,
      sub: decodeJwt(login.access_token).payload.sub,
      aud: ['app-c'],
      client_id: 'app-b',
      scope: 'activity:read',
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      token_type: 'Bearer',
      act: { sub: 'app-b', iss: stack.idp.issuer, act: { sub: 'app-a', iss: stack.idp.issuer } },
    })
  })

  it('introspectWhenTheTokenIsDpopBoundThenCnfAndTokenTypeDpop', async () => {
    const { forB, key } = await chain({ dpop: true })
    const answer = await introspect(forB, 'app-b')
    assert.equal(answer.body.active, true)
    assert.equal(answer.body.token_type, 'DPoP')
    assert.deepEqual(answer.body.cnf, { jkt: key!.jkt })
  })

  it('introspectWhenAnotherResourceServerAsksThenOnlyActiveFalse', async () => {
    const { forB } = await chain()
    const answer = await introspect(forB, 'app-c')
    assert.equal(answer.status, 200)
    assert.deepEqual(answer.body, { active: false })
  })

  it('introspectWhenTheCallerIsNotAResourceServerThenUnauthorizedClientAndNoClaims', async () => {
    const { forB } = await chain()
    const answer = await introspect(forB, 'reporter', stack.env.APP_A_CLIENT_SECRET)
    assert.equal(answer.status, 400)
    assert.equal(answer.body.error, 'unauthorized_client')
    assert.equal(answer.body.active, undefined)
    assert.equal(answer.body.sub, undefined)
  })

  it('introspectWhenUnauthenticatedOrWrongSecretThenInvalidClient', async () => {
    const { forB } = await chain()
    for (const answer of [
      await introspect(forB, null),
      await introspect(forB, 'app-b', 'not-the-secret-of-app-b-0123456789abcdef'),
    ]) {
      assert.equal(answer.status, 401)
      assert.equal(answer.body.error, 'invalid_client')
      assert.equal(answer.body.active, undefined)
    }
  })

  it('introspectWhenGarbageOrNoTokenThenActiveFalseOrInvalidRequest', async () => {
    assert.deepEqual((await introspect('not.a.token', 'app-b')).body, { active: false })
    const missing = await fetch(endpoint, {
      method: 'POST',
      headers: {
        authorization: basicAuth('app-b', stack.env.APP_B_CLIENT_SECRET),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: '',
    })
    assert.equal(missing.status, 400)
    assert.equal(((await missing.json()) as Record<string, unknown>).error, 'invalid_request')
  })

  it('revocationWhenTheUsersTokenIsRevokedThenEveryTokenExchangedFromItIsInactive', async () => {
    const { login, forB, forC } = await chain()
    assert.equal((await introspect(forC, 'app-c')).body.active, true)
    const revoke = await fetch(`${stack.idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: login.access_token, token_type_hint: 'access_token' }),
    })
    assert.equal(revoke.status, 200)
    assert.deepEqual((await introspect(forB, 'app-b')).body, { active: false })
    assert.deepEqual((await introspect(forC, 'app-c')).body, { active: false }, 'two hops down')
    // And no new token comes from the dead chain.
    const again = await exchangeToken(
      stack,
      {
        subject_token: forB,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-c',
        scope: 'activity:read',
      },
      { clientId: 'app-b' },
    )
    assert.equal(again.status, 400)
    assert.equal(again.body.access_token, undefined)
  })

  it('revocationWhenTheGrantIsRevokedThenTheChainIsInactive', async () => {
    const { login, forC } = await chain()
    const revoke = await fetch(`${stack.idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: login.refresh_token!, token_type_hint: 'refresh_token' }),
    })
    assert.equal(revoke.status, 200)
    assert.deepEqual((await introspect(forC, 'app-c')).body, { active: false })
  })

  it('resourceKitWhenIntrospectingThenARevokedChainIsRefusedBeforeItsExp', async () => {
    const { login, forB } = await chain()
    const verifier = withIntrospection(
      createAccessTokenVerifier({
        issuer: stack.idp.issuer,
        audience: 'app-b',
        jwksUri: `${stack.idp.issuer}/jwks`,
      }),
      { endpoint, clientId: 'app-b', clientSecret: stack.env.APP_B_CLIENT_SECRET },
    )
    assert.equal((await verifier(forB)).sub, decodeJwt(login.access_token).payload.sub)
    await fetch(`${stack.idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: login.access_token }),
    })
    await assert.rejects(
      verifier(forB),
      (err: unknown) => err instanceof ResourceAuthError && err.error === 'invalid_token',
    )
    const unreachable = withIntrospection(
      createAccessTokenVerifier({
        issuer: stack.idp.issuer,
        audience: 'app-b',
        jwksUri: `${stack.idp.issuer}/jwks`,
      }),
      {
        endpoint: 'http://127.0.0.1:9/introspect',
        clientId: 'app-b',
        clientSecret: stack.env.APP_B_CLIENT_SECRET,
      },
    )
    const { forB: live } = await chain()
    await assert.rejects(
      unreachable(live),
      (err: unknown) => err instanceof ResourceAuthError && err.error === 'temporarily_unavailable',
      'an unreachable endpoint never lets a token pass',
    )
  })
})
