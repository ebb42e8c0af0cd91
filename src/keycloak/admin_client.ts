/**
 * A small Keycloak Admin REST API client: an admin token (password grant for `admin-cli` in the
 * master realm, what `kcadm.sh` does) and one request helper. Used by `setup keycloak`, the live
 * tests (fresh realms) and `keycloak up` (nothing else talks to the Admin API).
 *
 * @example
 * const admin = await connectKeycloakAdmin({ baseUrl: 'http://127.0.0.1:8080', username, password })
 * const { status, body } = await admin.send('GET', '/admin/realms/onbehalf/clients')
 */
import { KeycloakSetupError, type HttpMethod } from './setup/representations.js'

export interface AdminResponse {
  status: number
  location: string | null
  body: unknown
}

export interface KeycloakAdmin {
  readonly baseUrl: string
  send(method: HttpMethod, path: string, body?: unknown): Promise<AdminResponse>
}

export interface ConnectOptions {
  baseUrl: string
  username: string
  password: string
  fetch?: typeof fetch
}

/** Admin token (password grant for `admin-cli` in the master realm) and a small request helper. */
/** The admin token request; admin-cli tokens live 60 s, so `send` asks again on a 401. */
async function adminToken(options: ConnectOptions, baseUrl: string): Promise<string> {
  const doFetch = options.fetch ?? fetch
  const response = await doFetch(`${baseUrl}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: 'admin-cli',
      username: options.username,
      password: options.password,
    }),
  })
  const token = (await response.json().catch(() => ({}))) as {
    access_token?: string
    error?: string
    error_description?: string
  }
  if (!response.ok || !token.access_token) {
    throw new KeycloakSetupError(
      `admin login at ${baseUrl} failed (${response.status} ${token.error ?? ''} ${token.error_description ?? ''}): check --admin-user/--admin-password (KC_BOOTSTRAP_ADMIN_USERNAME/PASSWORD)`.replace(
        / +\)/,
        ')',
      ),
    )
  }
  return token.access_token
}

/** Admin token (password grant for `admin-cli` in the master realm) and a small request helper. */
export async function connectKeycloakAdmin(options: ConnectOptions): Promise<KeycloakAdmin> {
  const doFetch = options.fetch ?? fetch
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  let token = await adminToken(options, baseUrl)
  const request = (method: HttpMethod, path: string, body?: unknown) =>
    doFetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  return {
    baseUrl,
    async send(method, path, body) {
      let res = await request(method, path, body)
      if (res.status === 401) {
        token = await adminToken(options, baseUrl)
        res = await request(method, path, body)
      }
      const text = await res.text()
      let parsed: unknown = text
      try {
        parsed = text ? JSON.parse(text) : undefined
      } catch {
        // keep the text: Keycloak answers some errors as plain text or HTML
      }
      return { status: res.status, location: res.headers.get('location'), body: parsed }
    },
  }
}
