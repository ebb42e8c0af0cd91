/**
 * RFC 8693 at the embedded IdP, over real HTTP: the shared conformance suite
 * (test/conformance/token_exchange_suite.ts) plus what only the IdP can do — its own login access
 * tokens, its discovery, and subject token status (revocation, refresh token revocation, logout).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Writable } from 'node:stream'
import { SignJWT } from 'jose'
import { createLogger } from '../../src/log/logger.js'
import { startStack, loginForTokens, decodeJwt, basicAuth } from '../helpers/stack.js'
import { TestBrowser } from '../helpers/browser.js'
import {
  ACCESS_TOKEN,
  SUBJECT_INVALID,
  tokenExchangeConformance,
  type ConformanceTarget,
} from '../conformance/token_exchange_suite.js'

async function startIdpTarget(): Promise<ConformanceTarget> {
  const logLines: string[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(chunk.toString())
      done()
    },
  })
  // The shared suite runs the IdP and the STS under one policy shape: app-a may exchange for app-b,
  // app-b may not exchange at all (deploy/sts/embedded.json). The shipped policy also lets app-b
  // exchange for app-c (the chain A → B → C, test/e2e/chain.test.ts); that is switched off here.
  const policy = JSON.parse(readFileSync('config/policy.json', 'utf8'))
  policy.clients['app-b'].tokenExchange = { enabled: false, allowedAudiences: [], scopeCeiling: [] }
  const policyDir = mkdtempSync(join(tmpdir(), 'onbehalf-idp-policy-'))
  const policyFile = join(policyDir, 'policy.json')
  writeFileSync(policyFile, JSON.stringify(policy))
  const stack = await startStack({
    logger: createLogger({ level: 'info' }, sink),
    env: { POLICY_FILE: policyFile },
  })
  return {
    stack,
    issuer: stack.idp.issuer,
    tokenEndpoint: `${stack.idp.issuer}/token`,
    jwksUri: `${stack.idp.issuer}/jwks`,
    discoveryUrl: `${stack.idp.issuer}/.well-known/openid-configuration`,
    activeKid: async () => stack.idp.keys.active.kid,
    logLines,
    close: async () => {
      await stack.close()
      rmSync(policyDir, { recursive: true, force: true })
    },
  }
}

tokenExchangeConformance('embedded IdP: RFC 8693 token exchange', startIdpTarget, (context) => {
  const exchange = context.exchange

  it('discovery requires PKCE with S256', async () => {
    const discovery = (await (await fetch(context.target.discoveryUrl)).json()) as Record<
      string,
      string[]
    >
    assert.deepEqual(discovery.code_challenge_methods_supported, ['S256'])
  })

  it('issues login access tokens as RFC 9068 JWTs addressed to the client itself', () => {
    const { header, payload } = decodeJwt(context.demo.access_token)
    assert.equal(header.typ, 'at+jwt')
    assert.equal(header.alg, 'ES256')
    assert.equal(payload.aud, 'app-a')
    assert.equal(payload.client_id, 'app-a')
    assert.equal(payload.sub, '3f9d2b8e-6a41-4c5e-9f2a-7d1e0c4b8a01')
    assert.match(String(payload.scope), /todos:read/)
    assert.ok(context.demo.refresh_token, 'refresh token issued to the confidential client')
  })

  describe('subject token status', () => {
    it('validly signed but never issued by the IdP (unknown jti) is refused', async () => {
      const demo = context.demo
      const key = context.target.stack.idp.keys.active
      const now = Math.floor(Date.now() / 1000)
      const token = await new SignJWT({
        ...decodeJwt(demo.access_token).payload,
        iat: now,
        exp: now + 300,
        jti: 'never-issued',
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })
        .sign(key.privateKey)
      const response = await exchange({
        subject_token: token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
      })
      assert.equal(response.status, 400)
      assert.equal(response.body.error_description, SUBJECT_INVALID)
    })

    it('a revoked access token can no longer be exchanged', async () => {
      const stack = context.target.stack
      const tokens = await loginForTokens(stack, { username: 'alice' })
      const before = await exchange({
        subject_token: tokens.access_token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
      })
      assert.equal(before.status, 200)
      const revoke = await fetch(`${stack.idp.issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token: tokens.access_token, token_type_hint: 'access_token' }),
      })
      assert.equal(revoke.status, 200)
      const afterRevoke = await exchange({
        subject_token: tokens.access_token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
      })
      assert.equal(afterRevoke.status, 400)
      assert.equal(afterRevoke.body.error_description, SUBJECT_INVALID)
    })

    it('after the refresh token is revoked (grant revoked), the access token is refused', async () => {
      const stack = context.target.stack
      const tokens = await loginForTokens(stack, { username: 'bob' })
      const revoke = await fetch(`${stack.idp.issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: basicAuth('app-a', stack.env.APP_A_CLIENT_SECRET),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          token: tokens.refresh_token!,
          token_type_hint: 'refresh_token',
        }),
      })
      assert.equal(revoke.status, 200)
      const response = await exchange({
        subject_token: tokens.access_token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
      })
      assert.equal(response.status, 400)
      assert.equal(response.body.error_description, SUBJECT_INVALID)
    })

    it('after the user logs out at the IdP, tokens of that session are refused', async () => {
      const stack = context.target.stack
      const browser = new TestBrowser()
      const tokens = await loginForTokens(stack, { username: 'demo', browser })
      assert.equal(
        (
          await exchange({
            subject_token: tokens.access_token,
            subject_token_type: ACCESS_TOKEN,
            audience: 'app-b',
          })
        ).status,
        200,
      )
      const logoutUrl = new URL(`${stack.idp.issuer}/session/end`)
      logoutUrl.search = new URLSearchParams({
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: `${stack.env.APP_A_URL}/`,
        client_id: 'app-a',
      }).toString()
      const confirm = await browser.navigate(logoutUrl.href)
      assert.equal(confirm.status, 200, confirm.body)
      const done = await browser.submitForm(confirm, { logout: 'yes' }, '/session/end/confirm', {
        stopAt: (url) => url.startsWith(stack.env.APP_A_URL),
      })
      assert.ok(done.url.startsWith(stack.env.APP_A_URL), `logout ended at ${done.url}`)
      const response = await exchange({
        subject_token: tokens.access_token,
        subject_token_type: ACCESS_TOKEN,
        audience: 'app-b',
      })
      assert.equal(response.status, 400)
      assert.equal(response.body.error_description, SUBJECT_INVALID)
    })
  })
})
