/**
 * Gets a subject token the way a user does: the authorization code flow with PKCE through the
 * IdP's real login form, then the code redeemed at the token endpoint. A tiny cookie jar and
 * manual redirects stand in for a browser; there is no back door.
 */
import { createHash, randomBytes } from 'node:crypto'

interface Page {
  readonly status: number
  readonly url: string
  readonly location: string | undefined
  readonly body: string
}

class CookieJar {
  readonly #cookies = new Map<string, string>()

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  store(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const pair = line.split(';', 1)[0]!
      const index = pair.indexOf('=')
      this.#cookies.set(pair.slice(0, index), pair.slice(index + 1))
    }
  }
}

async function request(jar: CookieJar, url: string, form?: Record<string, string>): Promise<Page> {
  const headers: Record<string, string> = { cookie: jar.header() }
  if (form) headers['content-type'] = 'application/x-www-form-urlencoded'
  const response = await fetch(url, {
    method: form ? 'POST' : 'GET',
    headers,
    body: form ? new URLSearchParams(form) : undefined,
    redirect: 'manual',
  })
  jar.store(response.headers)
  const location = response.headers.get('location') ?? undefined
  return {
    status: response.status,
    url,
    location: location === undefined ? undefined : new URL(location, url).href,
    body: await response.text(),
  }
}

/** Follows redirects until a page that is not a redirect, or a URL `stop` accepts. */
async function follow(jar: CookieJar, page: Page, stop: (url: string) => boolean): Promise<Page> {
  for (let hop = 0; hop < 15; hop++) {
    if (page.location === undefined || page.status < 300 || page.status >= 400) return page
    if (stop(page.location)) return page
    page = await request(jar, page.location)
  }
  throw new Error(`too many redirects from ${page.url}`)
}

export interface LoginOptions {
  readonly issuer: string
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUri: string
  readonly username: string
  readonly password: string
  readonly scope: string
}

export interface LoginTokens {
  readonly access_token: string
  readonly expires_in: number
}

export function basicAuthorization(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value)
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`
}

/** Signs `username` in through the IdP's login form and redeems the code for tokens. */
export async function loginForTokens(options: LoginOptions): Promise<LoginTokens> {
  const jar = new CookieJar()
  const verifier = randomBytes(32).toString('base64url')
  const authorize = new URL(`${options.issuer}/auth`)
  authorize.search = new URLSearchParams({
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    response_type: 'code',
    scope: options.scope,
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString()
  const stop = (url: string) => url.startsWith(options.redirectUri)

  let page = await follow(jar, await request(jar, authorize.href), stop)
  if (page.location === undefined || !stop(page.location)) {
    const action = /<form[^>]*action="([^"]*\/login)"/.exec(page.body)?.[1]
    if (!action) throw new Error(`no login form at ${page.url} (HTTP ${page.status})`)
    const submitted = await request(jar, new URL(action.replaceAll('&amp;', '&'), page.url).href, {
      username: options.username,
      password: options.password,
    })
    page = await follow(jar, submitted, stop)
  }
  if (page.location === undefined || !stop(page.location)) {
    throw new Error(`login did not complete: HTTP ${page.status} at ${page.url}`)
  }
  const code = new URL(page.location).searchParams.get('code')
  if (!code) throw new Error('no authorization code in the redirect')

  const response = await fetch(`${options.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: basicAuthorization(options.clientId, options.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: options.redirectUri,
      code_verifier: verifier,
    }),
  })
  const body = (await response.json()) as LoginTokens & { error?: string }
  if (!response.ok) throw new Error(`code redemption failed: ${body.error ?? response.status}`)
  return body
}
