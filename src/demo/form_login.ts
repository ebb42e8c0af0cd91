/**
 * Signs a user in the way a browser does, without one: the authorization code flow with PKCE
 * (RFC 7636, S256), `state` and `nonce`, through the IdP's own HTML login form, then the code
 * redeemed at the token endpoint with `client_secret_basic` (RFC 6749 §2.3.1). A cookie jar per
 * host and manual redirects stand in for the browser; the login form is the first form with a
 * password field (the embedded IdP's, Keycloak's, …). There is no password grant and no back door.
 *
 * Used by the attack lab (the attacker's own login), the benchmark (a real subject token) and
 * `onbehalf doctor` (the headless sign-in check). Faults are one typed error, `FormLoginError`,
 * whose `reason` says where the sign-in stopped; its message never holds a token, code or password.
 * Nothing here logs.
 *
 * @example
 * const tokens = await signInWithLoginForm({
 *   authorizationEndpoint: `${issuer}/auth`,
 *   tokenEndpoint: `${issuer}/token`,
 *   clientId: 'app-a',
 *   clientSecret,
 *   redirectUri: 'http://localhost:3993/auth/callback',
 *   scope: 'openid todos:read',
 *   username: 'demo',
 *   password: 'changeme',
 * })
 * tokens.access_token
 */
import { createHash, randomBytes } from 'node:crypto'
import { basicAuthorization } from '../client/token_exchange_client.js'

export interface FormLoginOptions {
  readonly authorizationEndpoint: string
  readonly tokenEndpoint: string
  readonly clientId: string
  readonly clientSecret: string
  /** A redirect URI registered for the client; the flow stops there, nothing is sent to it. */
  readonly redirectUri: string
  readonly scope: string
  readonly username: string
  readonly password: string
  /** OpenID Connect `prompt` (e.g. `login`); not sent when absent. */
  readonly prompt?: string
  readonly fetch?: typeof fetch
  /** Per-request timeout in milliseconds; none when absent. */
  readonly timeoutMs?: number
}

/** The token endpoint's answer: at least an access token. */
export interface FormLoginTokens {
  readonly access_token: string
  readonly [key: string]: unknown
}

/** Where the sign-in stopped. */
export type FormLoginFailure =
  | 'redirects'
  | 'no_login_form'
  | 'not_signed_in'
  | 'authorization_error'
  | 'state_mismatch'
  | 'no_code'
  | 'redemption_failed'

export class FormLoginError extends Error {
  static readonly code = 'ERR_FORM_LOGIN_FAILED'
  readonly code = FormLoginError.code
  override name = 'FormLoginError'
  constructor(
    /** Which step failed. */
    readonly reason: FormLoginFailure,
    message: string,
    /** The HTTP status of the last answer, when there was one. */
    readonly statusCode?: number,
  ) {
    super(message)
  }
}

interface Page {
  readonly status: number
  readonly url: string
  readonly location: string | null
  readonly body: string
}

interface Cookie {
  readonly name: string
  readonly value: string
  readonly path: string
}

/** Cookies per host, each scoped to its path (`/` when the cookie names none). */
class CookieJar {
  readonly #hosts = new Map<string, Map<string, Cookie>>()

  header(url: URL): string {
    return [...(this.#hosts.get(url.host)?.values() ?? [])]
      .filter((cookie) => url.pathname.startsWith(cookie.path))
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ')
  }

  store(url: URL, headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim())
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const attribute = (name: string) =>
        attributes
          .find((a) => a.toLowerCase().startsWith(`${name}=`))
          ?.slice(name.length + 1)
          .trim()
      const name = pair.slice(0, eq).trim()
      const path = attribute('path') || '/'
      const maxAge = attribute('max-age')
      const expires = attribute('expires')
      const expired =
        (maxAge !== undefined && Number(maxAge) <= 0) ||
        (maxAge === undefined && expires !== undefined && Date.parse(expires) <= Date.now())
      const cookies = this.#hosts.get(url.host) ?? new Map<string, Cookie>()
      if (expired) cookies.delete(`${name};${path}`)
      else cookies.set(`${name};${path}`, { name, value: pair.slice(eq + 1).trim(), path })
      this.#hosts.set(url.host, cookies)
    }
  }
}

function decodeEntities(value: string): string {
  return value
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&#x2F;|&#47;/g, '/')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
}

function attributesOf(tag: string): Record<string, string> {
  const attributes: Record<string, string> = {}
  for (const match of tag.matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    attributes[match[1]!.toLowerCase()] = decodeEntities(match[2] ?? match[3] ?? '')
  }
  return attributes
}

export interface LoginForm {
  /** The form's `action`, entities decoded; empty when the form posts to its own page. */
  readonly action: string
  /** The hidden fields, to send back as they are. */
  readonly fields: Record<string, string>
  readonly usernameField: string
  readonly passwordField: string
}

/** The login form: the first form with a password field; its action, hidden fields and field names. */
export function findLoginForm(html: string): LoginForm | undefined {
  for (const form of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const inputs = [...form[2]!.matchAll(/<input\b[^>]*>/gi)].map((input) => attributesOf(input[0]))
    const password = inputs.find((input) => input.type?.toLowerCase() === 'password' && input.name)
    if (!password) continue
    const fields: Record<string, string> = {}
    for (const input of inputs) {
      if (input.type?.toLowerCase() === 'hidden' && input.name)
        fields[input.name] = input.value ?? ''
    }
    const user =
      inputs.find((input) => ['username', 'login', 'email', 'user'].includes(input.name ?? '')) ??
      inputs.find(
        (input) => ['text', 'email', undefined].includes(input.type?.toLowerCase()) && input.name,
      )
    return {
      action: attributesOf(`<form ${form[1]}>`).action ?? '',
      fields,
      usernameField: user?.name ?? 'username',
      passwordField: password.name!,
    }
  }
  return undefined
}

function oauthErrorText(status: number, body: Record<string, unknown>): string {
  const { error, error_description: description } = body
  return `${status} ${String(error ?? 'no error code')}${description ? ` "${String(description)}"` : ''}`
}

/** Signs `username` in through the IdP's login form and redeems the code; returns the token response. */
export async function signInWithLoginForm(options: FormLoginOptions): Promise<FormLoginTokens> {
  const doFetch = options.fetch ?? globalThis.fetch
  const { redirectUri, timeoutMs } = options
  const jar = new CookieJar()
  const signal = () => (timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs))

  async function request(url: string, form?: Record<string, string>): Promise<Page> {
    const target = new URL(url)
    const headers: Record<string, string> = {}
    const cookie = jar.header(target)
    if (cookie) headers.cookie = cookie
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded'
    const response = await doFetch(target, {
      method: form ? 'POST' : 'GET',
      headers,
      body: form ? new URLSearchParams(form) : undefined,
      redirect: 'manual',
      signal: signal(),
    })
    jar.store(target, response.headers)
    return {
      status: response.status,
      url: target.href,
      location: response.headers.get('location'),
      body: await response.text(),
    }
  }

  const arrived = (url: string) => url.startsWith(redirectUri)
  /** Follows redirects until the redirect URI (the page's `url` is then the callback) or a page. */
  async function navigate(url: string, form?: Record<string, string>): Promise<Page> {
    let page = await request(url, form)
    for (let hop = 0; hop < 20; hop++) {
      if (page.status < 300 || page.status >= 400 || !page.location) return page
      const next = new URL(page.location, page.url).href
      if (arrived(next)) return { ...page, url: next }
      page = await request(next)
    }
    throw new FormLoginError('redirects', `too many redirects from ${new URL(url).origin}`)
  }

  const verifier = randomBytes(32).toString('base64url')
  const state = randomBytes(12).toString('base64url')
  const authorize = new URL(options.authorizationEndpoint)
  for (const [key, value] of Object.entries({
    client_id: options.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: options.scope,
    state,
    nonce: randomBytes(12).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...(options.prompt ? { prompt: options.prompt } : {}),
  })) {
    authorize.searchParams.set(key, value)
  }

  let page = await navigate(authorize.href)
  if (!arrived(page.url)) {
    const form = findLoginForm(page.body)
    if (!form)
      throw new FormLoginError(
        'no_login_form',
        `no login form at ${page.url} (HTTP ${page.status})`,
        page.status,
      )
    page = await navigate(new URL(form.action || page.url, page.url).href, {
      ...form.fields,
      [form.usernameField]: options.username,
      [form.passwordField]: options.password,
    })
    if (!arrived(page.url)) {
      throw new FormLoginError(
        'not_signed_in',
        `sign-in as ${options.username} did not complete (HTTP ${page.status} at ${page.url}): wrong username or password, or a required action (e.g. an incomplete account)`,
        page.status,
      )
    }
  }
  const callback = new URL(page.url)
  const error = callback.searchParams.get('error')
  if (error)
    throw new FormLoginError(
      'authorization_error',
      `authorization failed: ${error} ${callback.searchParams.get('error_description') ?? ''}`.trim(),
    )
  if (callback.searchParams.get('state') !== state)
    throw new FormLoginError('state_mismatch', 'authorization response state does not match')
  const code = callback.searchParams.get('code')
  if (!code) throw new FormLoginError('no_code', 'authorization response has no code')

  const response = await doFetch(options.tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: basicAuthorization(options.clientId, options.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }),
    signal: signal(),
  })
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>
  if (!response.ok || typeof body.access_token !== 'string') {
    throw new FormLoginError(
      'redemption_failed',
      `code redemption failed: ${oauthErrorText(response.status, body)}`,
      response.status,
    )
  }
  return body as FormLoginTokens
}
