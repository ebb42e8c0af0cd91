/**
 * The IdP's user interactions (oidc-provider hands the browser to `/interaction/:uid`):
 * a login form, and a consent step for clients that are not first-party. A failed login always
 * says "invalid username or password", whatever the cause.
 *
 * Abuse limits on the login form (limits and defaults: `AbuseLimits` in app.ts): every POST counts
 * against the client IP; every failed attempt counts against the normalised username, whether that
 * user exists or not, so throttling reveals nothing about which accounts exist. While a limit is
 * reached the password is not even checked (a right guess must look the same as a wrong one) and
 * the answer is 429 with `Retry-After`. The form body is capped (`bodyBytes`, Fastify answers 413).
 */
import formbody from '@fastify/formbody'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import type { Logger } from '../log/logger.js'
import type { UserDirectory } from './users.js'
import { formatUntil, renderConsent, renderIdpError, renderLogin } from './views.js'
import type { Delegations } from './delegations.js'
import type { CsrfTokens } from './csrf.js'
import type { RateLimiter } from '../limits/rate_limiter.js'

export type { RateLimiter }

export interface LoginLimits {
  /** Every login form POST, per client IP. */
  readonly perIp: RateLimiter
  /** Failed logins per normalised username (existing or not: no user enumeration). */
  readonly failuresPerUsername: RateLimiter
  /** Largest login form body, in bytes. */
  readonly bodyBytes: number
}

export interface InteractionOptions {
  provider: Provider
  users: UserDirectory
  logger: Logger
  limits: LoginLimits
  /** Agents the user may delegate to: the consent step (`delegation` clients only). */
  delegations: Delegations
  csrf: CsrfTokens
}

const CONSENT_CSRF = 'consent'

const LOGIN_FAILED = 'invalid username or password'
/** The login form's own limits (`maxlength` in views.ts). */
const MAX_USERNAME_LENGTH = 64
const MAX_PASSWORD_LENGTH = 256
const LOGIN_THROTTLED = 'too many sign-in attempts; wait a moment and try again'

function sendHtml(reply: FastifyReply, status: number, body: string) {
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(body)
}

export async function interactionRoutes(
  app: FastifyInstance,
  options: InteractionOptions,
): Promise<void> {
  const { provider, users, logger, limits, delegations, csrf } = options
  await app.register(formbody, { bodyLimit: limits.bodyBytes })

  function throttled(reply: FastifyReply, retryAfter: number, body: string) {
    return sendHtml(reply.header('retry-after', String(retryAfter)), 429, body)
  }

  async function details(request: FastifyRequest, reply: FastifyReply) {
    try {
      return await provider.interactionDetails(request.raw, reply.raw)
    } catch {
      // Unknown, expired or foreign interaction (its cookie is bound to the browser that started it).
      sendHtml(
        reply,
        400,
        renderIdpError(
          'invalid_request',
          'This sign-in link has expired. Go back to the app and sign in again.',
        ),
      )
      return undefined
    }
  }

  async function clientName(clientId: unknown): Promise<string> {
    const client = typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined
    return (client?.clientName as string | undefined) ?? String(clientId ?? 'the application')
  }

  app.get<{ Params: { uid: string } }>('/interaction/:uid', async (request, reply) => {
    const interaction = await details(request, reply)
    if (!interaction) return reply
    if (interaction.prompt.name === 'login') {
      return sendHtml(
        reply,
        200,
        renderLogin({
          actionUrl: `/interaction/${interaction.uid}/login`,
          clientName: await clientName(interaction.params.client_id),
        }),
      )
    }
    if (interaction.prompt.name === 'consent') {
      // First-party clients get their grant without a consent screen (provider.ts
      // loadExistingGrant). An agent gets the delegation consent; anything else is refused.
      const offer = delegations.offerFor(String(interaction.params.client_id))
      const accountId = interaction.session?.accountId
      if (offer && accountId) {
        return sendHtml(
          reply,
          200,
          renderConsent({
            actionUrl: `/interaction/${interaction.uid}/consent`,
            csrfToken: csrf.create(CONSENT_CSRF, `${interaction.uid}\0${accountId}`),
            agentName: offer.agentName,
            audienceName: offer.audienceName,
            scopes: offer.scopes,
            until: formatUntil(offer.expiresAt),
            username: users.findBySub(accountId)?.username ?? accountId,
          }),
        )
      }
      const url = await provider.interactionResult(
        request.raw,
        reply.raw,
        {
          error: 'access_denied',
          error_description: 'consent is not available for this client',
        },
        { mergeWithLastSubmission: false },
      )
      return reply.redirect(url, 303)
    }
    return sendHtml(reply, 400, renderIdpError('invalid_request', 'Unsupported sign-in step.'))
  })

  app.post<{ Params: { uid: string }; Body: { username?: unknown; password?: unknown } }>(
    '/interaction/:uid/login',
    async (request, reply) => {
      const ipWait = await limits.perIp.retryAfter(request.ip)
      if (ipWait > 0) {
        logger.warn({ event: 'login_throttled', limit: 'ip' }, 'login throttled')
        return throttled(
          reply,
          ipWait,
          renderIdpError(
            'too_many_requests',
            'Too many sign-in attempts from your network. Wait a moment and try again.',
          ),
        )
      }
      await limits.perIp.hit(request.ip)
      const interaction = await details(request, reply)
      if (!interaction) return reply
      if (interaction.prompt.name !== 'login')
        return sendHtml(reply, 400, renderIdpError('invalid_request', 'Unexpected sign-in step.'))
      // Trimmed first, then measured: a value beyond the limit is refused, never cut to fit
      // ("demo" + 60 spaces + "IGNORED" is not demo).
      const username =
        typeof request.body?.username === 'string' ? request.body.username.trim() : ''
      const password = typeof request.body?.password === 'string' ? request.body.password : ''
      if ([...username].length > MAX_USERNAME_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
        logger.info({ event: 'login_failed', interaction: interaction.uid }, 'login failed')
        return sendHtml(
          reply,
          401,
          renderLogin({
            actionUrl: `/interaction/${interaction.uid}/login`,
            clientName: await clientName(interaction.params.client_id),
            error: LOGIN_FAILED,
          }),
        )
      }
      // Same normalisation as the user directory, so "Demo " and "demo" share one counter.
      const usernameKey = username.toLowerCase()
      const userWait = usernameKey ? await limits.failuresPerUsername.retryAfter(usernameKey) : 0
      if (userWait > 0) {
        // The password is not checked while throttled: a right guess must not stand out.
        logger.warn(
          { event: 'login_throttled', limit: 'username', interaction: interaction.uid },
          'login throttled',
        )
        return throttled(
          reply,
          userWait,
          renderLogin({
            actionUrl: `/interaction/${interaction.uid}/login`,
            clientName: await clientName(interaction.params.client_id),
            username,
            error: LOGIN_THROTTLED,
          }),
        )
      }
      const user = username && password ? await users.authenticate(username, password) : undefined
      if (!user) {
        if (usernameKey) await limits.failuresPerUsername.hit(usernameKey)
        logger.info({ event: 'login_failed', interaction: interaction.uid }, 'login failed')
        return sendHtml(
          reply,
          401,
          renderLogin({
            actionUrl: `/interaction/${interaction.uid}/login`,
            clientName: await clientName(interaction.params.client_id),
            username,
            error: LOGIN_FAILED,
          }),
        )
      }
      logger.info({ event: 'login', sub: user.sub }, 'login succeeded')
      const url = await provider.interactionResult(
        request.raw,
        reply.raw,
        { login: { accountId: user.sub } },
        { mergeWithLastSubmission: false },
      )
      return reply.redirect(url, 303)
    },
  )

  app.post<{ Params: { uid: string }; Body: { csrf?: unknown; decision?: unknown } }>(
    '/interaction/:uid/consent',
    async (request, reply) => {
      const interaction = await details(request, reply)
      if (!interaction) return reply
      const clientId = String(interaction.params.client_id)
      const offer = delegations.offerFor(clientId)
      const accountId = interaction.session?.accountId
      if (interaction.prompt.name !== 'consent' || !offer || !accountId)
        return sendHtml(reply, 400, renderIdpError('invalid_request', 'Unexpected sign-in step.'))
      if (!csrf.verify(CONSENT_CSRF, `${interaction.uid}\0${accountId}`, request.body?.csrf)) {
        logger.warn({ event: 'consent_csrf_refused', clientId }, 'consent refused: bad csrf token')
        return sendHtml(
          reply,
          403,
          renderIdpError('invalid_request', 'This form has expired. Start again from the app.'),
        )
      }
      if (request.body?.decision !== 'allow') {
        logger.info({ event: 'delegation_denied', clientId, sub: accountId }, 'delegation denied')
        const url = await provider.interactionResult(
          request.raw,
          reply.raw,
          { error: 'access_denied', error_description: 'the user did not delegate' },
          { mergeWithLastSubmission: false },
        )
        return reply.redirect(url, 303)
      }
      const record = await delegations.create(provider, { sub: accountId, clientId })
      logger.info(
        {
          event: 'delegation_created',
          delegation: record.id,
          clientId,
          sub: accountId,
          audience: record.audience,
          scopes: record.scopes,
          expiresAt: record.expiresAt,
        },
        'delegation created',
      )
      const url = await provider.interactionResult(
        request.raw,
        reply.raw,
        { consent: { grantId: record.grantId } },
        { mergeWithLastSubmission: true },
      )
      return reply.redirect(url, 303)
    },
  )
}
