/**
 * A minimal HTTP "browser" for integration tests: a cookie jar keyed by host (like a real browser,
 * cookies on 127.0.0.1 are shared across ports), manual redirect following, and form posts. It
 * drives the real login form of the IdP — the product has no test-only back door.
 */
export interface BrowserResponse {
  status: number
  url: string
  headers: Headers
  body: string
}

interface StoredCookie {
  name: string
  value: string
  path: string
  expires?: number
}

export class TestBrowser {
  private readonly jar = new Map<string, Map<string, StoredCookie>>()

  private cookiesFor(url: URL): string {
    const cookies = this.jar.get(url.hostname)
    if (!cookies) return ''
    const now = Date.now()
    return [...cookies.values()]
      .filter(
        (cookie) =>
          url.pathname.startsWith(cookie.path) &&
          (cookie.expires === undefined || cookie.expires > now),
      )
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ')
  }

  private store(url: URL, headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim())
      const index = pair!.indexOf('=')
      const name = pair!.slice(0, index)
      const value = pair!.slice(index + 1)
      let path = '/'
      let expires: number | undefined
      for (const attribute of attributes) {
        const [key, val] = attribute.split('=')
        if (key!.toLowerCase() === 'path' && val) path = val
        if (key!.toLowerCase() === 'max-age' && val) expires = Date.now() + Number(val) * 1000
        if (key!.toLowerCase() === 'expires' && val && expires === undefined)
          expires = Date.parse(val)
      }
      const cookies = this.jar.get(url.hostname) ?? new Map<string, StoredCookie>()
      cookies.set(`${name};${path}`, { name, value, path, expires })
      this.jar.set(url.hostname, cookies)
    }
  }

  cookieNames(hostname = '127.0.0.1'): string[] {
    return [...(this.jar.get(hostname)?.values() ?? [])].map((cookie) => cookie.name)
  }

  /** One request, no redirect following. */
  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<BrowserResponse> {
    const target = new URL(url)
    const headers: Record<string, string> = { ...init.headers }
    const cookie = this.cookiesFor(target)
    if (cookie) headers.cookie = cookie
    let body: string | undefined
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(init.form).toString()
    }
    const response = await fetch(target, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    })
    this.store(target, response.headers)
    return {
      status: response.status,
      url: target.href,
      headers: response.headers,
      body: await response.text(),
    }
  }

  /** Follows redirects (GET after 303/302/301) until a non-redirect answer or `stopAt` matches. */
  async navigate(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
    options: { stopAt?: (url: string) => boolean; maxHops?: number } = {},
  ): Promise<BrowserResponse> {
    let response = await this.request(url, init)
    for (let hop = 0; hop < (options.maxHops ?? 15); hop++) {
      const location = response.headers.get('location')
      if (response.status < 300 || response.status >= 400 || !location) return response
      const next = new URL(location, response.url).href
      if (options.stopAt?.(next)) return { ...response, url: next }
      response = await this.request(next)
    }
    throw new Error(`too many redirects from ${url}`)
  }

  /** Submits the first form on the page whose action matches, with its hidden fields plus `fields`. */
  async submitForm(
    page: BrowserResponse,
    fields: Record<string, string>,
    actionIncludes = '',
    options: { stopAt?: (url: string) => boolean } = {},
  ): Promise<BrowserResponse> {
    const forms = [...page.body.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/g)]
    for (const match of forms) {
      const action = /action="([^"]*)"/.exec(match[0])?.[1]?.replaceAll('&amp;', '&')
      if (action === undefined || !action.includes(actionIncludes)) continue
      const hidden: Record<string, string> = {}
      for (const input of match[1]!.matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
        const name = /name="([^"]*)"/.exec(input[0])?.[1]
        const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? ''
        if (name) hidden[name] = value.replaceAll('&amp;', '&').replaceAll('&quot;', '"')
      }
      return this.navigate(
        new URL(action, page.url).href,
        { method: 'POST', form: { ...hidden, ...fields } },
        options,
      )
    }
    throw new Error(`no form with action containing "${actionIncludes}" on ${page.url}`)
  }
}
