/**
 * App A: the client that acts on behalf of its signed-in user. It signs users in at the IdP
 * (OpenID Connect), exchanges the user's access token for one addressed to App B (RFC 8693, with
 * App A as the actor), and calls App B's service API with it.
 *
 * `buildAppA` returns a ready Fastify instance that is not listening; `server.ts` starts it.
 *
 * @example
 * const app = await buildAppA({ env: loadEnv(), logger: createLogger({ name: 'app-a' }) })
 * await app.listen({ host: env.HOST, port: env.APP_A_PORT })
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { decodeJwt } from 'jose'
import {
  createDpopKey,
  createTokenExchangeClient,
  ExchangedTokenCache,
  TokenExchangeError,
  type ExchangeResult,
} from '../../client/index.js'
import type { Env } from '../../config/env.js'
import type { IdpKind } from '../../idp_profiles/index.js'
import { fastifyLogOptions, type Logger } from '../../log/logger.js'
import { registerTraceContext } from '../../log/request_context.js'
import { registerWebBasics, sendHtml } from '../../web/basics.js'
import { sessionStoreFromEnv } from '../../web/redis_session_store.js'
import { html } from '../../web/html.js'
import { registerOidcLogin, UserTokenError } from '../../web/oidc_login.js'
import { createAppBClient } from './app_b_client.js'
import { createPathStrategies, runPaths } from '../../demo/paths/index.js'
import { idpProfile, issuerForClient } from '../../idp_profiles/index.js'
import { attackLabConfigFrom, runAttackLab, type FindUserSub } from '../../attack/index.js'
import { renderPage } from '../../web/layout.js'
import { attackLabBody } from './paths_views.js'
import type { ChainModel } from './chain_view.js'
import {
  appBFailureMessage,
  dashboardPage,
  nav,
  landingPage,
  todosPage,
  type DashboardModel,
} from './views.js'
import { systemClock, type Clock } from '../../time/clock.js'

export const APP_A_COOKIE_NAME = 'onbehalf_app_a_sid'
/**
 * Scopes App A asks for at sign-in; `todos:read` is what it later asks App B's token to carry, and
 * `activity:read` what App B's token must carry for App B to read App C's log for the user.
 */
export const APP_A_SCOPE = 'openid profile email offline_access todos:read activity:read'
export const APP_B_SCOPE = 'todos:read'
/** The token App A obtains for App B's `/api/activity` (the chain A → B → C). */
export const APP_B_CHAIN_SCOPE = 'todos:read activity:read'

/**
 * The scope App A asks for at sign-in. `activity:read` is defined by onbehalf's own policy
 * (config/policy.json); Keycloak refuses scopes it does not know, so other IdPs are not asked.
 * Keycloak 26.7.3 also gets no `offline_access`: redeeming a code issued with it left no online
 * user session, so the single sign-on into App B asked for the password again (seen on a real
 * one). App A's refresh token is then an ordinary one, valid as long as the Keycloak session.
 */
export function appALoginScope(kind: IdpKind): string {
  if (kind === 'embedded') return APP_A_SCOPE
  const scope = APP_A_SCOPE.replace(' activity:read', '')
  return kind === 'keycloak' ? scope.replace(' offline_access', '') : scope
}

export interface BuildAppAOptions {
  env: Env
  logger: Logger
  /** Outbound HTTP to the IdP and App B (tests). */
  fetch?: typeof fetch
  /** Clock (tests). */
  now?: Clock
  /** Where the attack lab finds the victim's sub when ATTACK_VICTIM_SUB is unset. */
  findUserSub?: FindUserSub
}

function safeDecode(token: string): Record<string, unknown> | undefined {
  try {
    return decodeJwt(token) as Record<string, unknown>
  } catch {
    return undefined
  }
}

export async function buildAppA(options: BuildAppAOptions): Promise<FastifyInstance> {
  const { env } = options
  // The IdP named by IDP (embedded by default); on authentik each application has its own issuer.
  const issuer = issuerForClient(env.idp, env.APP_A_CLIENT_ID)
  const now = options.now ?? systemClock
  const app = Fastify({
    ...fastifyLogOptions(options.logger, 'app-a'),
    trustProxy: false,
  })
  registerTraceContext(app)

  await registerWebBasics(app, {
    appName: 'App A',
    cookieName: APP_A_COOKIE_NAME,
    sessionSecret: env.APP_A_SESSION_SECRET,
    secureCookies: env.APP_A_URL.startsWith('https://'),
    formActionOrigins: [new URL(issuer).origin],
    now,
    // REDIS_URL: sessions shared by every App A instance (no sticky sessions), kept over restarts.
    sessionStore: sessionStoreFromEnv(env, 'app-a', now),
  })
  const oidc = await registerOidcLogin(app, {
    issuer,
    clientId: env.APP_A_CLIENT_ID,
    clientSecret: env.APP_A_CLIENT_SECRET,
    baseUrl: env.APP_A_URL,
    scope: appALoginScope(env.idp.kind),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    now,
  })

  /** The IdP's token endpoint, from discovery: the exchanger and the paths ask for it per call. */
  async function tokenEndpoint(): Promise<string> {
    const endpoint = (await oidc.serverMetadata()).token_endpoint
    if (!endpoint) throw new Error('the IdP metadata has no token_endpoint')
    return endpoint
  }

  const cache = new ExchangedTokenCache({ maxEntries: 1000, now })
  const exchanger = createTokenExchangeClient({
    tokenEndpoint,
    clientId: env.APP_A_CLIENT_ID,
    clientSecret: env.APP_A_CLIENT_SECRET,
    cache,
    now,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
  // RFC 9449: App A's one DPoP key (in memory, never exported). The todos card's token is bound to
  // it; the chain's token stays a bearer token, because App B re-exchanges it and does not hold
  // App A's key (the engine would refuse the bound one, rightly).
  const dpopOn = (env.APP_A_DPOP ?? (env.idp.kind === 'embedded' ? 'on' : 'off')) === 'on'
  const dpopKey = dpopOn ? await createDpopKey({ now }) : undefined
  const cardExchanger =
    dpopKey === undefined
      ? exchanger
      : createTokenExchangeClient({
          tokenEndpoint,
          clientId: env.APP_A_CLIENT_ID,
          clientSecret: env.APP_A_CLIENT_SECRET,
          cache,
          now,
          dpop: dpopKey,
          ...(options.fetch ? { fetch: options.fetch } : {}),
        })
  const appB = createAppBClient({
    baseUrl: env.APP_B_URL,
    ...(dpopKey ? { dpop: dpopKey } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
  const audience = env.APP_B_CLIENT_ID
  // What App A asks App B's token to carry, in the IdP's terms (Keycloak adds its audience scope).
  const appBScope = idpProfile(env.idp.kind).exchangeScope(audience, APP_B_SCOPE)
  const appBChainScope = idpProfile(env.idp.kind).exchangeScope(audience, APP_B_CHAIN_SCOPE)
  // Every path to App B, as data: the dashboard renders one card per result (a new path, e.g. an
  // STS, is one more strategy). RFC 8693 shares the exchanger (and its cache) with the rest of App A.
  const pathStrategies = createPathStrategies(
    {
      tokenEndpoint,
      clientId: env.APP_A_CLIENT_ID,
      clientSecret: env.APP_A_CLIENT_SECRET,
      audience,
      serviceUrl: env.APP_B_URL,
      scope: appBScope,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    },
    { exchanger, stsTokenEndpoint: `${env.STS_ISSUER}/token`, supported: env.idp.strategies },
  )

  /** The user's token for App B, or why there is none. Logs token ids (`jti`), never tokens. */
  async function tokenForAppB(
    request: FastifyRequest,
  ): Promise<
    | { userToken: string; exchanged: ExchangeResult }
    | { userToken?: string; userTokenError?: UserTokenError; exchangeError?: TokenExchangeError }
  > {
    let userToken: string
    try {
      userToken = await app.getUserAccessToken(request)
    } catch (error) {
      if (error instanceof UserTokenError) {
        request.log.info({ reason: error.reason }, 'user access token unavailable')
        return { userTokenError: error }
      }
      throw error
    }
    try {
      const exchanged = await cardExchanger.exchange({
        subjectToken: userToken,
        audience,
        scope: appBScope,
      })
      request.log.info(
        {
          audience,
          jti: exchanged.claims?.jti,
          fromCache: exchanged.fromCache,
          durationMs: exchanged.durationMs,
        },
        'token exchanged',
      )
      return { userToken, exchanged }
    } catch (error) {
      if (error instanceof TokenExchangeError) {
        request.log.warn(
          { error: error.error, status: error.statusCode, audience },
          'token exchange failed',
        )
        return { userToken, exchangeError: error }
      }
      throw error
    }
  }

  /** A token App B rejected should not be served from the cache again. */
  function forgetExchanged(userToken: string): void {
    cache.delete(ExchangedTokenCache.key(userToken, audience, appBScope, dpopKey?.jkt))
  }

  /**
   * The chain User → App A → App B → App C for this page view: App A exchanges the user's token for
   * App B (`activity:read` included), App B exchanges that one for App C and answers with App C's
   * entries and the claims App C verified. Every fault ends up on the card, at the hop it hit.
   */
  async function delegationChain(
    request: FastifyRequest,
    userToken: string | undefined,
    userTokenError: UserTokenError | undefined,
  ): Promise<ChainModel> {
    if (!userToken) {
      return {
        failure: {
          hop: 'app-a',
          message: `your access token is not available (${userTokenError?.message ?? 'not signed in'})`,
        },
      }
    }
    const chain: ChainModel = { userClaims: safeDecode(userToken) }
    let appBToken: string
    try {
      const exchanged = await exchanger.exchange({
        subjectToken: userToken,
        audience,
        scope: appBChainScope,
      })
      appBToken = exchanged.accessToken
      chain.appBClaims = exchanged.claims
    } catch (error) {
      if (!(error instanceof TokenExchangeError)) throw error
      request.log.warn(
        { error: error.error, status: error.statusCode, audience },
        'chain: exchange failed',
      )
      chain.failure = {
        hop: 'app-b',
        message: html`App A's exchange for App B was refused:
          <code>${error.error}</code>${error.description ? html` — ${error.description}` : ''}`,
      }
      return chain
    }
    // The second way (draft-ietf-oauth-transaction-tokens-10): App B takes a txn token to App C.
    const [activity, viaTxn] = await Promise.all([
      appB.activity(appBToken),
      appB.activity(appBToken, 'txn-token'),
    ])
    chain.txnVariant = viaTxn.ok
      ? { seen: viaTxn.value.seen }
      : {
          error:
            viaTxn.failure.kind === 'http'
              ? `${viaTxn.failure.error ?? `HTTP ${viaTxn.failure.status}`}${viaTxn.failure.description ? ` — ${viaTxn.failure.description}` : ''}`
              : viaTxn.failure.message,
        }
    if (activity.ok) {
      chain.appCSeen = activity.value.seen
      chain.entries = activity.value.entries
      return chain
    }
    const failure = activity.failure
    if (failure.kind === 'http' && failure.status === 401) {
      cache.delete(ExchangedTokenCache.key(userToken, audience, appBChainScope))
    }
    request.log.warn({ failure }, 'chain: activity unavailable')
    chain.failure =
      failure.kind === 'http' && failure.hop
        ? {
            hop: 'app-c',
            message: html`App B could not reach App C for you:
            ${failure.description ?? failure.error ?? `HTTP ${failure.status}`}`,
          }
        : { hop: 'app-b', message: appBFailureMessage(failure) }
    return chain
  }

  app.get('/healthz', async () => ({ ok: true }))

  app.get('/', async (request, reply) => {
    const user = request.user
    if (!user) {
      // No form on the landing page, so no session (and no cookie) for anonymous visitors.
      return sendHtml(reply, landingPage({ csrfToken: '', appBUrl: env.APP_B_URL }))
    }
    const model: DashboardModel = {
      csrfToken: request.session.csrfToken,
      user,
      appBUrl: env.APP_B_URL,
      audience,
      requestedScope: appBScope,
      now: now(),
    }
    const result = await tokenForAppB(request)
    if (result.userToken) {
      model.originalClaims = safeDecode(result.userToken)
      // Before App B's answer can evict the cached exchange below, so both use the same token.
      model.paths = await runPaths(pathStrategies, { userAccessToken: result.userToken })
    }
    model.chain = await delegationChain(
      request,
      result.userToken,
      'userTokenError' in result ? result.userTokenError : undefined,
    )
    if ('exchanged' in result) {
      const { exchanged } = result
      model.exchange = {
        claims: exchanged.claims,
        scope: exchanged.scope,
        issuedTokenType: exchanged.issuedTokenType,
        expiresAt: exchanged.expiresAt,
        fromCache: exchanged.fromCache,
        durationMs: exchanged.durationMs,
        exchanged: exchanged.exchange,
        jkt: exchanged.jkt,
      }
      model.todoCount = await appB.todoCount(exchanged.accessToken, exchanged.jkt)
      if (
        !model.todoCount.ok &&
        model.todoCount.failure.kind === 'http' &&
        model.todoCount.failure.status === 401
      ) {
        forgetExchanged(result.userToken)
      }
    } else {
      if (result.userTokenError) model.userTokenError = result.userTokenError
      if (result.exchangeError) model.exchangeError = result.exchangeError
    }
    return sendHtml(reply, dashboardPage(model))
  })

  app.get('/todos', { preHandler: app.requireLogin }, async (request, reply) => {
    const user = request.user!
    const base = { csrfToken: request.session.csrfToken, user, appBUrl: env.APP_B_URL }
    const result = await tokenForAppB(request)
    if (!('exchanged' in result)) {
      const reason = result.userTokenError
        ? `your access token is not available (${result.userTokenError.message})`
        : `the exchange was refused: ${result.exchangeError?.error ?? 'unknown'}${
            result.exchangeError?.description ? ` (${result.exchangeError.description})` : ''
          }`
      return sendHtml(reply, todosPage({ ...base, error: html`No token for App B: ${reason}.` }))
    }
    const todos = await appB.listTodos(result.exchanged.accessToken, result.exchanged.jkt)
    if (!todos.ok) {
      if (todos.failure.kind === 'http' && todos.failure.status === 401)
        forgetExchanged(result.userToken)
      return sendHtml(reply, todosPage({ ...base, error: appBFailureMessage(todos.failure) }))
    }
    return sendHtml(reply, todosPage({ ...base, todos: todos.value }))
  })

  // The attack lab: a compromised App A (its secret + the attacker's login) against the real IdP
  // and App B. Runs server-side on POST (CSRF-checked by the web kit); off in production.
  const attackPage = (
    request: FastifyRequest,
    body: { report?: Awaited<ReturnType<typeof runAttackLab>>; error?: string } = {},
  ) =>
    renderPage({
      appName: 'App A',
      title: 'Attack lab',
      user: request.user,
      csrfToken: request.session.csrfToken,
      nav: nav('/attack'),
      accent: 'blue',
      body: attackLabBody({
        csrfToken: request.session.csrfToken,
        attacker: env.ATTACK_ATTACKER,
        victim: env.ATTACK_VICTIM,
        ...body,
      }),
    })
  if (env.NODE_ENV !== 'production') {
    app.get('/attack', { preHandler: app.requireLogin }, async (request, reply) =>
      sendHtml(reply, attackPage(request)),
    )
    app.post('/attack', { preHandler: app.requireLogin }, async (request, reply) => {
      try {
        const report = await runAttackLab({
          ...attackLabConfigFrom(env, {}, options.findUserSub),
          ...(options.fetch ? { fetch: options.fetch } : {}),
        })
        request.log.info(
          { attempts: report.attempts.map((a) => ({ id: a.id, verdict: a.verdict })) },
          'attack lab run',
        )
        return sendHtml(reply, attackPage(request, { report }))
      } catch (error) {
        request.log.warn({ err: error }, 'attack lab failed')
        return sendHtml(
          reply,
          attackPage(request, { error: `The lab could not run: ${(error as Error).message}` }),
        )
      }
    })
  }

  await app.ready()
  return app
}
