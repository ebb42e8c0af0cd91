/**
 * `registerWebBasics`: what every onbehalf web app needs before its first route: form bodies,
 * signed cookies, security headers with a strict CSP, server-side sessions, CSRF protection for
 * cookie-authenticated forms, the shared stylesheet, `Cache-Control: no-store` on HTML, and an
 * error handler that never shows a stack trace.
 *
 * Paths under `/api/` are service APIs authenticated by bearer tokens only: they get no session
 * cookie and no CSRF check (a cross-site form cannot attach a bearer token).
 *
 * @example
 * await registerWebBasics(app, {
 *   appName: 'App A',
 *   cookieName: 'onbehalf_app_a_sid',
 *   sessionSecret: env.APP_A_SESSION_SECRET,
 *   secureCookies: env.APP_A_URL.startsWith('https://'),
 *   formActionOrigins: [new URL(env.IDP_ISSUER).origin],
 * })
 */
import { timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fastifyCookie from '@fastify/cookie'
import fastifyFormbody from '@fastify/formbody'
import fastifyHelmet from '@fastify/helmet'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Clock } from '../time/clock.js'
import { renderErrorPage } from './layout.js'
import {
  createSessionRecord,
  DEFAULT_SESSION_TTL_SECONDS,
  SessionStore,
  type Session,
  type SessionBackend,
  type SessionRecord,
} from './session.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Server-side session (a detached, never-persisted one on `/api/` paths). */
    session: Session
  }
  interface FastifyInstance {
    /** Options the web kit was registered with (read by `registerOidcLogin` and error pages). */
    webBasics: Readonly<WebBasicsOptions>
    /** The server-side sessions of this app, for ending them from outside a request. */
    webSessions: WebSessions
  }
  interface FastifyContextConfig {
    /**
     * `false` for a POST that is not a browser form and authenticates itself (back-channel logout
     * with a signed logout token): no CSRF token is asked for. Default: checked.
     */
    csrf?: boolean
  }
}

export interface WebSessions {
  /** Ends every session whose data matches; resolves with how many ended. */
  endWhere(matches: (data: ReadonlyMap<string, unknown>) => boolean): Promise<number>
}

export interface WebBasicsOptions {
  appName: string
  /** Distinct per app: cookies on localhost are shared across ports. */
  cookieName: string
  /** At least 32 characters; signs the session cookie (HMAC-SHA256). */
  sessionSecret: string
  /** `Secure` cookies and HSTS; true when the app is served over https. */
  secureCookies: boolean
  /** Sliding idle timeout of a session. Default 8 hours. */
  sessionTtlSeconds?: number
  /** Origins forms may submit to or redirect to after submission (the IdP, for login/logout). */
  formActionOrigins?: string[]
  /** Upper bound on live sessions; the least recently used are evicted. Default 10 000. */
  maxSessions?: number
  /** Clock for session expiry (tests). */
  now?: Clock
  /**
   * Where sessions live, e.g. `createRedisSessionStore` (shared by every instance; closed with the
   * app). Default: this process's memory (`SessionStore`, bounded by `maxSessions`).
   */
  sessionStore?: SessionBackend
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const STYLESHEET = readFileSync(new URL('./assets/style.css', import.meta.url), 'utf8')

export function isApiPath(url: string): boolean {
  return url === '/api' || url.startsWith('/api/') || url.startsWith('/api?')
}

/** Constant-time string comparison (different lengths compare unequal without leaking content). */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

/** Sends an HTML document with the right content type (Cache-Control is added by the onSend hook). */
export function sendHtml(reply: FastifyReply, document: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(document)
}

class RequestSession implements Session {
  #record: SessionRecord
  #persisted: boolean
  /** Changed since it was loaded: saved once, before the response leaves (`flush`). */
  #dirty = false
  /** Ids of records this request dropped (regenerate, destroy), removed at `flush`. */
  readonly #removed: string[] = []
  readonly #store: SessionBackend
  readonly #reply: FastifyReply
  readonly #cookieName: string
  readonly #secure: boolean
  readonly #detached: boolean

  constructor(args: {
    record: SessionRecord
    persisted: boolean
    store: SessionBackend
    reply: FastifyReply
    cookieName: string
    secure: boolean
    detached: boolean
  }) {
    this.#record = args.record
    this.#persisted = args.persisted
    this.#store = args.store
    this.#reply = args.reply
    this.#cookieName = args.cookieName
    this.#secure = args.secure
    this.#detached = args.detached
  }

  get id(): string {
    return this.#record.id
  }

  /** Reading the token of a fresh session persists it, so the token in a form stays valid. */
  get csrfToken(): string {
    this.#persist()
    return this.#record.csrfToken
  }

  /** The token without creating the session (for the CSRF check itself). */
  get existingCsrfToken(): string | undefined {
    return this.#persisted ? this.#record.csrfToken : undefined
  }

  get<T = unknown>(key: string): T | undefined {
    return this.#record.data.get(key) as T | undefined
  }

  set(key: string, value: unknown): void {
    this.#record.data.set(key, value)
    this.#persist()
    this.#dirty = true
  }

  delete(key: string): void {
    if (this.#record.data.delete(key)) this.#dirty = true
  }

  regenerate(): void {
    if (this.#persisted) this.#removed.push(this.#record.id)
    this.#record = createSessionRecord(this.#store.now(), this.#store.ttlSeconds)
    this.#persisted = false
    this.#persist()
  }

  destroy(): void {
    if (this.#persisted) this.#removed.push(this.#record.id)
    this.#record = createSessionRecord(this.#store.now(), this.#store.ttlSeconds)
    this.#persisted = false
    this.#dirty = false
    if (!this.#detached) {
      this.#reply.clearCookie(this.#cookieName, this.#cookieOptions())
    }
  }

  #cookieOptions() {
    return {
      path: '/',
      httpOnly: true,
      sameSite: 'lax' as const,
      secure: this.#secure,
      signed: true,
    }
  }

  #persist(): void {
    if (this.#persisted || this.#detached) return
    this.#persisted = true
    this.#dirty = true
    this.#reply.setCookie(this.#cookieName, this.#record.id, this.#cookieOptions())
  }

  /** Writes this request's changes to the store: before the response is sent. */
  async flush(): Promise<void> {
    if (this.#detached) return
    for (const id of this.#removed.splice(0)) await this.#store.remove(id)
    if (this.#persisted && this.#dirty) {
      this.#dirty = false
      await this.#store.save(this.#record)
    }
  }
}

async function webBasicsPlugin(app: FastifyInstance, options: WebBasicsOptions): Promise<void> {
  if (!options.cookieName || !/^[A-Za-z0-9_.-]+$/.test(options.cookieName)) {
    throw new TypeError('cookieName must be a plain token')
  }
  if (!options.sessionSecret || options.sessionSecret.length < 32) {
    throw new TypeError('sessionSecret must be at least 32 characters')
  }
  const formActionOrigins = (options.formActionOrigins ?? []).map(
    (origin) => new URL(origin).origin,
  )
  const store: SessionBackend =
    options.sessionStore ??
    new SessionStore({
      ttlSeconds: options.sessionTtlSeconds ?? DEFAULT_SESSION_TTL_SECONDS,
      maxSessions: options.maxSessions,
      now: options.now,
    })
  const frozen = Object.freeze({ ...options, sessionSecret: '[redacted]', sessionStore: undefined })
  app.decorate('webBasics', frozen)
  app.decorate(
    'webSessions',
    Object.freeze({
      endWhere: async (matches: Parameters<WebSessions['endWhere']>[0]) =>
        store.removeWhere(matches),
    }),
  )

  await app.register(fastifyFormbody, { bodyLimit: 64 * 1024 })
  await app.register(fastifyCookie, { secret: options.sessionSecret })
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        // Login and logout forms end in a redirect to the IdP; browsers check form-action on it.
        formAction: ["'self'", ...formActionOrigins],
        ...(options.secureCookies ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    hsts: options.secureCookies ? { maxAge: 15552000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  })

  const sweepTimer = store.sweep ? setInterval(() => store.sweep?.(), 60_000) : undefined
  sweepTimer?.unref()
  app.addHook('onClose', async () => {
    clearInterval(sweepTimer)
    await store.close?.()
  })

  app.decorateRequest('session', null as unknown as Session)
  app.addHook('onRequest', async (request, reply) => {
    const detached = isApiPath(request.url)
    let record: SessionRecord | undefined
    if (!detached) {
      const cookie = request.cookies[options.cookieName]
      if (cookie) {
        const unsigned = request.unsignCookie(cookie)
        if (unsigned.valid && unsigned.value) record = await store.load(unsigned.value)
      }
    }
    request.session = new RequestSession({
      record: record ?? createSessionRecord(store.now(), store.ttlSeconds),
      persisted: record !== undefined,
      store,
      reply,
      cookieName: options.cookieName,
      secure: options.secureCookies,
      detached,
    })
  })

  // CSRF (synchronizer token): runs after body parsing. Cookie-authenticated state changes must
  // prove they come from one of our own pages.
  app.addHook('preHandler', async (request, reply) => {
    if (!UNSAFE_METHODS.has(request.method) || isApiPath(request.url)) return
    if (request.routeOptions.config.csrf === false) return
    const expected = (request.session as RequestSession).existingCsrfToken
    const body = request.body as Record<string, unknown> | undefined | null
    const fromBody = body && typeof body === 'object' ? body._csrf : undefined
    const fromHeader = request.headers['x-csrf-token']
    const presented =
      typeof fromBody === 'string'
        ? fromBody
        : typeof fromHeader === 'string'
          ? fromHeader
          : undefined
    if (expected && presented && safeEqual(presented, expected)) return
    request.log.warn(
      { reason: expected ? 'csrf_mismatch' : 'csrf_no_session' },
      'csrf check failed',
    )
    return sendHtml(
      reply,
      renderErrorPage({
        appName: options.appName,
        status: 403,
        title: 'Request refused',
        message:
          'This form was not sent from a page of this app, or your session has expired. Reload the page and try again.',
      }),
      403,
    )
  })

  app.addHook('onSend', async (request, reply, payload) => {
    // The session is stored before the response leaves: the next request may reach any instance.
    await (request.session as RequestSession | null)?.flush()
    const type = reply.getHeader('content-type')
    if (typeof type === 'string' && type.startsWith('text/html')) {
      reply.header('cache-control', 'no-store')
    }
    return payload
  })

  app.get('/assets/style.css', async (_request, reply) => {
    return reply
      .type('text/css; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .send(STYLESHEET)
  })

  app.setErrorHandler(async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const status =
      typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600
        ? error.statusCode
        : 500
    if (status >= 500) request.log.error({ err: error }, 'request failed')
    else request.log.info({ err: { message: error.message, code: error.code } }, 'request rejected')
    // Client errors carry Fastify's own safe messages (bad body, too large); server errors say nothing.
    const message =
      status >= 500
        ? 'Something went wrong on our side. Please try again.'
        : 'The request could not be processed.'
    if (isApiPath(request.url)) {
      return reply
        .code(status)
        .type('application/json; charset=utf-8')
        .send({
          error: status >= 500 ? 'server_error' : 'invalid_request',
          error_description: message,
        })
    }
    return sendHtml(
      reply,
      renderErrorPage({
        appName: options.appName,
        status,
        title: status >= 500 ? 'Server error' : 'Bad request',
        message,
      }),
      status,
    )
  })
}

const plugin = fp(webBasicsPlugin, { name: 'onbehalf-web-basics', fastify: '5.x' })

/** Registers the web kit on `app` (not encapsulated: hooks and decorations apply to every route). */
export async function registerWebBasics(
  app: FastifyInstance,
  options: WebBasicsOptions,
): Promise<void> {
  await app.register(plugin, options)
}
