/**
 * The attacker's own sign-in: authorization code + PKCE through the IdP's real login form, the code
 * redeemed with App A's client secret (which the attacker holds, playing a compromised App A).
 * No test-only back door: this is what any App A user does, scripted (src/demo/form_login.ts).
 *
 * @example
 * ```ts
 * const accessToken = await loginWithPassword({ issuer, clientId, clientSecret, redirectUri, username, password, scope })
 * ```
 */
import { FormLoginError, signInWithLoginForm } from '../demo/form_login.js'

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
  static readonly code = 'ERR_LOGIN_FAILED'
  readonly code = LoginError.code
  override name = 'LoginError'
}

/** Signs in at the embedded IdP's `/auth` (with `prompt=login`); returns the access token. */
export async function loginWithPassword(options: PasswordLoginOptions): Promise<string> {
  const issuer = options.issuer.replace(/\/+$/, '')
  try {
    const tokens = await signInWithLoginForm({
      authorizationEndpoint: `${issuer}/auth`,
      tokenEndpoint: `${issuer}/token`,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      redirectUri: options.redirectUri,
      scope: options.scope,
      username: options.username,
      password: options.password,
      prompt: 'login',
      timeoutMs: 10_000,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    })
    return tokens.access_token
  } catch (error) {
    if (error instanceof FormLoginError) throw new LoginError(error.message, { cause: error })
    throw error
  }
}
