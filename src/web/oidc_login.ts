/**
 * `registerOidcLogin`: OpenID Connect sign-in for a confidential web client (authorization code
 * flow with PKCE S256, `state` and `nonce`; OpenID Connect Core §3.1, RFC 7636), built on
 * openid-client 6. Tokens live only in the server-side session, never in the browser.
 *
 * Discovery runs lazily on first use and is retried after a failure, so the app starts (and serves
 * its landing page) while the IdP is still down. Logout (RP-initiated, OpenID Connect RP-Initiated
 * Logout 1.0) destroys the local session first, then sends the browser to `end_session_endpoint`.
 *
 * Requires `registerWebBasics` to be registered first (sessions, CSRF for the logout form).
 *
 * @example
 * const oidc = await registerOidcLogin(app, {
 *   issuer: env.IDP_ISSUER,
 *   clientId: env.APP_A_CLIENT_ID,
 *   clientSecret: env.APP_A_CLIENT_SECRET,
 *   baseUrl: env.APP_A_URL,
 *   scope: 'openid profile email offline_access todos:read',
 * })
 * app.get('/me', { preHandler: app.requireLogin }, async (request) => request.user)
 */
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify'
import fp from 'fastify-plugin'
import * as client from 'openid-client'
import { sendHtml } from './basics.js'
import { html } from './html.js'
import { renderErrorPage } from './layout.js'
import { createLogoutTokenVerifier, LogoutTokenError } from './logout_token.js'
import { safeReturnTo } from './return_to.js'
import { systemClock, type Clock } from '../time/clock.js'

export { safeReturnTo }

export interface SessionUser {
  sub: string
  name?: string
  username?: string
  email?: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user (from ID token claims), or null. */
    user: SessionUser | null
  }
  interface FastifyInstance {
    /** preHandler: redirects anonymous GET requests to `/auth/login?returnTo=…` (401 page otherwise). */
    requireLogin: preHandlerAsyncHookHandler
    /** The user's access token, refreshed when it expires within 30 s. Throws `UserTokenError`. */
    getUserAccessToken(request: FastifyRequest): Promise<string>
  }
}

export interface OidcLoginOptions {
  issuer: string
  clientId: string
  clientSecret: string
  /** Public base URL of this app, without trailing slash; redirect URIs are derived from it. */
  baseUrl: string
  scope: string
  /** RFC 8707 resource indicator sent with the authorization, code and refresh requests. */
  resource?: string
  /** Extra authorization request parameters (e.g. `{ prompt: 'consent' }`). */
  authorizationParams?: Record<string, string>
  /** Outbound HTTP (tests); defaults to the global fetch. */
  fetch?: typeof fetch
  /** Seconds per request to the IdP. Default 5. */
  timeoutSeconds?: number
  /** Clock for token expiry and sign-in attempts (tests). */
  now?: Clock
}

export type UserTokenErrorReason =
  'not_logged_in' | 'refresh_unavailable' | 'refresh_rejected' | 'idp_unavailable'

/** Thrown by `getUserAccessToken` when no usable access token can be produced. */
export class UserTokenError extends Error {
  static readonly code = 'ERR_USER_TOKEN_UNAVAILABLE'
  readonly code = UserTokenError.code
  override name = 'UserTokenError'
  constructor(
    readonly reason: UserTokenErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** What the session holds after login (key `oidc`). Tokens never leave the server. */
export interface OidcSessionTokens {
  accessToken: string
  refreshToken?: string
  idToken?: string
  /** Epoch seconds. */
  expiresAt: number
  scope?: string
  user: SessionUser
  /** The IdP session (`sid` of the ID token): what a back-channel logout token names. */
  sid?: string
}

interface PendingLogin {
  state: string
  nonce: string
  codeVerifier: string
  returnTo: string
  createdAt: number
}

export interface OidcLogin {
  requireLogin: preHandlerAsyncHookHandler
  getUserAccessToken(request: FastifyRequest): Promise<string>
  /** Discovery metadata (performs discovery when not done yet; rejects while the IdP is down). */
  serverMetadata(): Promise<client.ServerMetadata>
  /** The tokens of the signed-in user, for display or token exchange. */
  getSessionTokens(request: FastifyRequest): OidcSessionTokens | undefined
}

const SESSION_KEY = 'oidc'
const PENDING_KEY = 'oidc:pending'
/** Set in the fresh session after a sign-out: the next sign-in asks for the password again. */
const SIGNED_OUT_KEY = 'oidc:signedOut'
export const BACKCHANNEL_LOGOUT_PATH = '/auth/backchannel-logout'
const REFRESH_SKEW_SECONDS = 30
const PENDING_TTL_SECONDS = 10 * 60

function isLocalHttp(url: URL): boolean {
  return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
}

/** Network faults, timeouts and 5xx discovery answers: the IdP is not reachable right now. */
export function isIdpUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return true
  if (error instanceof TypeError && /fetch failed|network|ECONNREFUSED/i.test(error.message))
    return true
  if (error instanceof client.ResponseBodyError) return error.status >= 500
  const code = (error as { code?: string }).code
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_RESPONSE_IS_NOT_JSON') return true
  return error.cause !== undefined && error.cause !== error && isIdpUnavailable(error.cause)
}

function userFromClaims(claims: client.IDToken): SessionUser {
  const user: SessionUser = { sub: claims.sub }
  if (typeof claims.name === 'string') user.name = claims.name
  if (typeof claims.preferred_username === 'string') user.username = claims.preferred_username
  if (typeof claims.email === 'string') user.email = claims.email
  return user
}

async function oidcLoginPlugin(
  app: FastifyInstance,
  options: OidcLoginOptions & { handle: OidcLogin[] },
) {
  if (!app.hasRequestDecorator('session')) {
    throw new TypeError('registerOidcLogin needs registerWebBasics to be registered first')
  }
  const issuer = new URL(options.issuer)
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  const redirectUri = `${baseUrl}/auth/callback`
  const postLogoutRedirectUri = `${baseUrl}/`
  const now = options.now ?? systemClock
  const appName = app.webBasics.appName
  const timeout = options.timeoutSeconds ?? 5

  let discovery: Promise<client.Configuration> | undefined
  function getConfig(): Promise<client.Configuration> {
    discovery ??= client
      .discovery(
        issuer,
        options.clientId,
        { id_token_signed_response_alg: 'ES256' },
        client.ClientSecretBasic(options.clientSecret),
        {
          // Plain http is allowed for a local development issuer only.
          execute: isLocalHttp(issuer) ? [client.allowInsecureRequests] : [],
          timeout,
          ...(options.fetch ? { [client.customFetch]: options.fetch as client.CustomFetch } : {}),
        },
      )
      .catch((error: unknown) => {
        discovery = undefined // retried on the next use
        throw error
      })
    return discovery
  }

  function errorPage(
    reply: FastifyReply,
    request: FastifyRequest,
    status: number,
    title: string,
    message: string,
  ) {
    return sendHtml(
      reply,
      renderErrorPage({
        appName,
        status,
        title,
        message,
        actions: html`<p>
          <a class="button" href="/auth/login">Try again</a>
          <a class="button button-secondary" href="/">Start page</a>
        </p>`,
      }),
      status,
    )
  }

  function idpDownPage(reply: FastifyReply, request: FastifyRequest) {
    return errorPage(
      reply,
      request,
      503,
      'Sign-in service unavailable',
      'The identity provider cannot be reached right now. Please try again in a moment.',
    )
  }

  const getSessionTokens = (request: FastifyRequest) =>
    request.session.get<OidcSessionTokens>(SESSION_KEY)

  app.decorateRequest('user', null)
  app.addHook('onRequest', async (request) => {
    request.user = getSessionTokens(request)?.user ?? null
  })

  app.get('/auth/login', async (request, reply) => {
    const query = request.query as Record<string, unknown>
    let config: client.Configuration
    try {
      config = await getConfig()
    } catch (error) {
      request.log.warn({ err: error }, 'oidc discovery failed')
      return idpDownPage(reply, request)
    }
    const pending: PendingLogin = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      codeVerifier: client.randomPKCECodeVerifier(),
      returnTo: safeReturnTo(query.returnTo),
      createdAt: now(),
    }
    request.session.set(PENDING_KEY, pending)
    const parameters: Record<string, string> = {
      ...options.authorizationParams,
      redirect_uri: redirectUri,
      scope: options.scope,
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    }
    if (options.resource) parameters.resource = options.resource
    // After a sign-out here, signing in again is never silent, whatever the IdP session says.
    if (request.session.get(SIGNED_OUT_KEY) === true) parameters.prompt = 'login'
    return reply.redirect(client.buildAuthorizationUrl(config, parameters).href, 303)
  })

  app.get('/auth/callback', async (request, reply) => {
    const pending = request.session.get<PendingLogin>(PENDING_KEY)
    if (!pending || now() - pending.createdAt > PENDING_TTL_SECONDS) {
      return errorPage(
        reply,
        request,
        400,
        'Sign-in expired',
        'This sign-in attempt is unknown or took too long. Please start again.',
      )
    }
    request.session.delete(PENDING_KEY)
    let config: client.Configuration
    try {
      config = await getConfig()
    } catch (error) {
      request.log.warn({ err: error }, 'oidc discovery failed')
      return idpDownPage(reply, request)
    }
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>
    try {
      tokens = await client.authorizationCodeGrant(
        config,
        new URL(request.url, baseUrl),
        {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        },
        options.resource ? { resource: options.resource } : undefined,
      )
    } catch (error) {
      if (error instanceof client.AuthorizationResponseError) {
        request.log.info({ error: error.error }, 'authorization response error')
        const denied = error.error === 'access_denied'
        return errorPage(
          reply,
          request,
          denied ? 403 : 400,
          denied ? 'Sign-in cancelled' : 'Sign-in failed',
          `The identity provider answered: ${error.error}${error.error_description ? ` (${error.error_description})` : ''}.`,
        )
      }
      if (isIdpUnavailable(error)) {
        request.log.warn({ err: error }, 'token endpoint unavailable')
        return idpDownPage(reply, request)
      }
      request.log.warn({ err: error }, 'authorization code grant failed')
      const code = error instanceof client.ResponseBodyError ? `: ${error.error}` : ''
      return errorPage(
        reply,
        request,
        502,
        'Sign-in failed',
        `The sign-in could not be completed${code}.`,
      )
    }
    const claims = tokens.claims()
    if (!claims) {
      return errorPage(
        reply,
        request,
        502,
        'Sign-in failed',
        'The identity provider returned no ID token.',
      )
    }
    // Session fixation: the authenticated session gets a new id and CSRF token.
    request.session.regenerate()
    const session: OidcSessionTokens = {
      accessToken: tokens.access_token,
      expiresAt: now() + (tokens.expires_in ?? 300),
      user: userFromClaims(claims),
    }
    if (tokens.refresh_token) session.refreshToken = tokens.refresh_token
    if (tokens.id_token) session.idToken = tokens.id_token
    if (tokens.scope) session.scope = tokens.scope
    if (typeof claims.sid === 'string') session.sid = claims.sid
    request.session.set(SESSION_KEY, session)
    request.log.info({ sub: session.user.sub }, 'user signed in')
    // Validated when stored; checked again because the session is only as good as its writer.
    return reply.redirect(safeReturnTo(pending.returnTo), 303)
  })

  app.post('/auth/logout', async (request, reply) => {
    const refreshToken = getSessionTokens(request)?.refreshToken
    request.session.destroy()
    request.session.set(SIGNED_OUT_KEY, true)
    let endSessionUrl: string | undefined
    try {
      const config = await getConfig()
      // Revoking the refresh token revokes the user's grant at the IdP, so tokens of this login
      // stop being exchangeable even if the user never confirms the IdP logout page.
      if (refreshToken) {
        await client
          .tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' })
          .catch((error: unknown) => {
            request.log.warn({ err: error }, 'refresh token revocation failed')
          })
      }
      if (config.serverMetadata().end_session_endpoint) {
        // client_id rather than id_token_hint: no token ever travels in a URL (RP-Initiated Logout §2).
        endSessionUrl = client.buildEndSessionUrl(config, {
          client_id: options.clientId,
          post_logout_redirect_uri: postLogoutRedirectUri,
        }).href
      }
    } catch (error) {
      // Local logout already happened; the IdP session ends when the IdP is back.
      request.log.warn({ err: error }, 'end session url unavailable')
    }
    return reply.redirect(endSessionUrl ?? '/', 303)
  })

  // OpenID Connect Back-Channel Logout 1.0: the IdP posts a logout token when the user's IdP
  // session ends (signed out in another app, or at the IdP); every session of this app for that
  // IdP session (`sid`) — or, without `sid`, for that user (`sub`) — ends at once.
  const logoutTokens = createLogoutTokenVerifier({
    issuer: options.issuer,
    clientId: options.clientId,
    jwksUri: async () => (await getConfig()).serverMetadata().jwks_uri,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    now,
  })
  app.post(BACKCHANNEL_LOGOUT_PATH, { config: { csrf: false } }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const body = request.body as Record<string, unknown> | null | undefined
    const token = body && typeof body === 'object' ? body.logout_token : undefined
    if (typeof token !== 'string' || token.length === 0 || token.length > 16 * 1024) {
      return reply.code(400).send({
        error: 'invalid_request',
        error_description: 'logout_token is missing',
      })
    }
    let logout: Awaited<ReturnType<typeof logoutTokens.verify>>
    try {
      logout = await logoutTokens.verify(token)
    } catch (error) {
      if (!(error instanceof LogoutTokenError)) throw error
      request.log.warn({ reason: error.reason }, 'logout token refused')
      const unavailable = error.reason === 'keys_unavailable'
      return reply.code(unavailable ? 503 : 400).send({
        error: unavailable ? 'temporarily_unavailable' : 'invalid_request',
        error_description: unavailable
          ? 'the identity provider keys cannot be fetched right now'
          : 'logout_token is invalid',
      })
    }
    const ended = await app.webSessions.endWhere((data) => {
      const tokens = data.get(SESSION_KEY) as OidcSessionTokens | undefined
      if (!tokens) return false
      if (logout.sid !== undefined) {
        return (
          tokens.sid === logout.sid && (logout.sub === undefined || tokens.user.sub === logout.sub)
        )
      }
      return tokens.user.sub === logout.sub
    })
    request.log.info(
      { event: 'backchannel_logout', jti: logout.jti, sub: logout.sub, sessionsEnded: ended },
      'sessions ended by back-channel logout',
    )
    return reply.code(200).send()
  })

  const requireLogin: preHandlerAsyncHookHandler = async function (request, reply) {
    if (request.user) return
    if (request.method === 'GET' || request.method === 'HEAD') {
      return reply.redirect(
        `/auth/login?returnTo=${encodeURIComponent(safeReturnTo(request.url))}`,
        303,
      )
    }
    return errorPage(reply, request, 401, 'Please sign in', 'You need to sign in to do this.')
  }

  // One refresh at a time per session: with refresh token rotation a second, parallel refresh
  // would present an already used token.
  const refreshing = new Map<string, Promise<string>>()

  async function refresh(request: FastifyRequest, tokens: OidcSessionTokens): Promise<string> {
    let config: client.Configuration
    try {
      config = await getConfig()
    } catch (error) {
      throw new UserTokenError('idp_unavailable', 'the identity provider is unreachable', {
        cause: error,
      })
    }
    try {
      const response = await client.refreshTokenGrant(
        config,
        tokens.refreshToken!,
        options.resource ? { resource: options.resource } : undefined,
      )
      const updated: OidcSessionTokens = {
        ...tokens,
        accessToken: response.access_token,
        expiresAt: now() + (response.expires_in ?? 300),
      }
      if (response.refresh_token) updated.refreshToken = response.refresh_token
      if (response.id_token) updated.idToken = response.id_token
      if (response.scope) updated.scope = response.scope
      request.session.set(SESSION_KEY, updated)
      return updated.accessToken
    } catch (error) {
      if (isIdpUnavailable(error)) {
        throw new UserTokenError('idp_unavailable', 'the identity provider is unreachable', {
          cause: error,
        })
      }
      // invalid_grant and friends: the grant is gone, the user has to sign in again.
      request.session.set(SESSION_KEY, { ...tokens, refreshToken: undefined })
      const code = error instanceof client.ResponseBodyError ? error.error : 'refresh_failed'
      throw new UserTokenError('refresh_rejected', `the refresh was refused (${code})`, {
        cause: error,
      })
    }
  }

  async function getUserAccessToken(request: FastifyRequest): Promise<string> {
    const tokens = getSessionTokens(request)
    if (!tokens) throw new UserTokenError('not_logged_in', 'no user is signed in')
    if (tokens.expiresAt - REFRESH_SKEW_SECONDS > now()) return tokens.accessToken
    if (!tokens.refreshToken) {
      throw new UserTokenError(
        'refresh_unavailable',
        'the access token expired and there is no refresh token',
      )
    }
    const key = request.session.id
    let pending = refreshing.get(key)
    if (!pending) {
      pending = refresh(request, tokens).finally(() => refreshing.delete(key))
      refreshing.set(key, pending)
    }
    return pending
  }

  app.decorate('requireLogin', requireLogin)
  app.decorate('getUserAccessToken', getUserAccessToken)
  options.handle.push({
    requireLogin,
    getUserAccessToken,
    getSessionTokens,
    serverMetadata: async () => (await getConfig()).serverMetadata(),
  })
}

const plugin = fp(oidcLoginPlugin, {
  name: 'onbehalf-oidc-login',
  fastify: '5.x',
  dependencies: ['onbehalf-web-basics'],
})

/** Registers `/auth/login`, `/auth/callback`, `/auth/logout` and the `user` decorations. */
export async function registerOidcLogin(
  app: FastifyInstance,
  options: OidcLoginOptions,
): Promise<OidcLogin> {
  const handle: OidcLogin[] = []
  await app.register(plugin, { ...options, handle })
  const login = handle[0]
  if (!login) throw new Error('registerOidcLogin: plugin did not load')
  return login
}
