/**
 * The attacker's own sign-in: authorization code + PKCE through the IdP's real login form, the code
 * redeemed with App A's client secret (which the attacker holds, playing a compromised App A).
 * No test-only back door: this is what any App A user does, scripted.
 *
 * @example
 * ```ts
 * const accessToken = await loginWithPassword({ issuer, clientId, clientSecret, redirectUri, username, password, scope })
 * ```
 */
import { createHash, randomBytes } from 'node:crypto'
import { basicAuthorization } from '../client/token_exchange_client.js'

export interface PasswordLoginOptions {
  readonly issuer: string
  readonly clientId: string
  readonly clientSecret: string
  /** A redirect URI registered for the client; the flow stops there, nothing is sent to it. */
  readonly redirectUri: string
  readonly username: string
  readonly password: string
  readonly scope: string
  readonly fetch?: typeof fetch
}

export class LoginError extends Error {
  override name = 'LoginError'
}

/** A tiny cookie jar: name=value per host, path-prefixed. */
class Jar {
  readonly #cookies = new Map<string, { value: string; path: string }>()
  header(url: URL): string {
    return [...this.#cookies.entries()]
      .filter(([, cookie]) => url.pathname.startsWith(cookie.path))
      .map(([name, cookie]) => `${name.split(';')[0]}=${cookie.value}`)
      .join('; ')
  }
  store(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim())
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const path = attributes.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) || '/'
      this.#cookies.set(`${pair.slice(0, eq)};${path}`, { value: pair.slice(eq + 1), path })
    }
  }
}

function unescapeAttribute(value: string): string {
  return value
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&')
}

export async function loginWithPassword(options: PasswordLoginOptions): Promise<string> {
  const fetchImpl = options.fetch ?? globalThis.fetch
  const jar = new Jar()
  const issuer = options.issuer.replace(/\/+$/, '')
  const verifier = randomBytes(32).toString('base64url')
  const authorize = new URL(`${issuer}/auth`)
  authorize.search = new URLSearchParams({
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    response_type: 'code',
    scope: options.scope,
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    prompt: 'login',
  }).toString()

  async function go(url: string, form?: Record<string, string>) {
    const target = new URL(url)
    const headers: Record<string, string> = {}
    const cookie = jar.header(target)
    if (cookie) headers.cookie = cookie
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded'
    const response = await fetchImpl(target, {
      method: form ? 'POST' : 'GET',
      headers,
      body: form ? new URLSearchParams(form) : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    })
    jar.store(response.headers)
    return {
      url: target.href,
      status: response.status,
      headers: response.headers,
      body: await response.text(),
    }
  }

  /** Follows redirects until the redirect URI (returns its URL) or a page (returns the page). */
  async function follow(first: Awaited<ReturnType<typeof go>>) {
    let page = first
    for (let hop = 0; hop < 15; hop++) {
      const location = page.headers.get('location')
      if (page.status < 300 || page.status >= 400 || !location) return { page }
      const next = new URL(location, page.url).href
      if (next.startsWith(options.redirectUri)) return { callback: new URL(next) }
      page = await go(next)
    }
    throw new LoginError('too many redirects')
  }

  let step = await follow(await go(authorize.href))
  if (step.page) {
    const form = /<form\b[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(step.page.body)
    const action = form && /action="([^"]*)"/.exec(form[0])?.[1]
    if (!form || !action) throw new LoginError(`no login form (HTTP ${step.page.status})`)
    const fields: Record<string, string> = {}
    for (const input of form[1]!.matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1]
      if (name) fields[name] = unescapeAttribute(/value="([^"]*)"/.exec(input[0])?.[1] ?? '')
    }
    fields.username = options.username
    fields.password = options.password
    step = await follow(await go(new URL(unescapeAttribute(action), step.page.url).href, fields))
  }
  if (!step.callback)
    throw new LoginError(`login refused for ${options.username} (HTTP ${step.page?.status})`)
  const code = step.callback.searchParams.get('code')
  if (!code)
    throw new LoginError(`no code: ${step.callback.searchParams.get('error') ?? 'unknown'}`)

  const response = await fetchImpl(`${issuer}/token`, {
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
    signal: AbortSignal.timeout(10_000),
  })
  const body = (await response.json().catch(() => ({}))) as {
    access_token?: unknown
    error?: unknown
  }
  if (!response.ok || typeof body.access_token !== 'string') {
    throw new LoginError(`code redemption failed: ${String(body.error ?? response.status)}`)
  }
  return body.access_token
}
