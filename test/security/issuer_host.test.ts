/**
 * Issue 12 item 5: the IdP's published URLs derive from the configured issuer, never from the
 * request. On main, `Host: evil.example` made discovery name `http://evil.example/token`,
 * `…/jwks` and the rest; forwarding headers are not trusted either (no proxy is configured).
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import type { Stack } from '../helpers/stack.js'
import { startLiveIdp } from './helpers.js'

/** A GET with headers exactly as given (fetch does not let a caller set Host). */
function rawGet(
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; location?: string }> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method: 'GET', headers },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () =>
          resolve({ status: res.statusCode!, body, location: res.headers.location }),
        )
      },
    )
    req.on('error', reject)
    req.end()
  })
}

const HOSTILE_HEADERS = {
  host: 'evil.example',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'https',
  forwarded: 'host=evil.example;proto=https',
}

/** Every string value of the document that is an absolute URL. */
function urlsIn(document: Record<string, unknown>): string[] {
  return Object.values(document).filter(
    (value): value is string => typeof value === 'string' && /^[a-z]+:\/\//i.test(value),
  )
}

describe('published URLs come from the issuer', () => {
  let stack: Stack
  before(async () => {
    stack = await startLiveIdp()
  })
  after(async () => {
    await stack?.close()
  })

  for (const path of [
    '/.well-known/openid-configuration',
    '/.well-known/oauth-authorization-server',
  ]) {
    it(`discoveryWhenHostIsEvilExampleThenEveryEndpointStartsWithTheIssuer (${path})`, async () => {
      const response = await rawGet(stack.idp.issuer, path, HOSTILE_HEADERS)
      assert.equal(response.status, 200)
      const document = JSON.parse(response.body) as Record<string, unknown>
      assert.equal(document.issuer, stack.idp.issuer)
      const urls = urlsIn(document)
      assert.ok(urls.length >= 6, `endpoints listed: ${urls.join(', ')}`)
      for (const url of urls)
        assert.ok(url.startsWith(`${stack.idp.issuer}/`) || url === stack.idp.issuer, url)
      assert.equal(document.token_endpoint, `${stack.idp.issuer}/token`)
      assert.equal(document.jwks_uri, `${stack.idp.issuer}/jwks`)
      assert.doesNotMatch(response.body, /evil\.example/)
      assert.doesNotMatch(response.body, /https:/, 'the forwarded scheme is not believed either')
    })
  }

  it('authorizationWhenHostIsEvilExampleThenTheRedirectStaysOnTheIssuer', async () => {
    const query = new URLSearchParams({
      client_id: 'app-a',
      redirect_uri: `${stack.env.APP_A_URL}/auth/callback`,
      response_type: 'code',
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    })
    const response = await rawGet(stack.idp.issuer, `/auth?${query}`, HOSTILE_HEADERS)
    assert.ok(response.status === 303 || response.status === 302, `status ${response.status}`)
    const location = new URL(response.location ?? '', stack.idp.issuer)
    assert.equal(location.origin, new URL(stack.idp.issuer).origin)
    assert.doesNotMatch(response.location ?? '', /evil\.example/)
  })
})
