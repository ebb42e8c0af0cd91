/**
 * The IdP's user interactions (oidc-provider hands the browser to `/interaction/:uid`):
 * a login form, and a consent step for clients that are not first-party. A failed login always
 * says "invalid username or password", whatever the cause.
 */
import formbody from '@fastify/formbody'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import type { Logger } from '../log/logger.js'
import type { UserDirectory } from './users.js'
import { renderIdpError, renderLogin } from './views.js'

export interface InteractionOptions {
  provider: Provider
  users: UserDirectory
  logger: Logger
}

const LOGIN_FAILED = 'invalid username or password'

function sendHtml(reply: FastifyReply, status: number, body: string) {
  return reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body)
}

export async function interactionRoutes(app: FastifyInstance, options: InteractionOptions): Promise<void> {
  const { provider, users, logger } = options
  await app.register(formbody, { bodyLimit: 8 * 1024 })

  async function details(request: FastifyRequest, reply: FastifyReply) {
    try {
      return await provider.interactionDetails(request.raw, reply.raw)
    } catch {
      // Unknown, expired or foreign interaction (its cookie is bound to the browser that started it).
      sendHtml(reply, 400, renderIdpError('invalid_request', 'This sign-in link has expired. Go back to the app and sign in again.'))
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
      return sendHtml(reply, 200, renderLogin({ actionUrl: `/interaction/${interaction.uid}/login`, clientName: await clientName(interaction.params.client_id) }))
    }
    if (interaction.prompt.name === 'consent') {
      // Only first-party clients are configured; their grant is created without a consent screen
      // (provider.ts loadExistingGrant). Anything else asking for consent is refused, not granted.
      const url = await provider.interactionResult(request.raw, reply.raw, {
        error: 'access_denied',
        error_description: 'consent is not available for this client',
      }, { mergeWithLastSubmission: false })
      return reply.redirect(url, 303)
    }
    return sendHtml(reply, 400, renderIdpError('invalid_request', 'Unsupported sign-in step.'))
  })

  app.post<{ Params: { uid: string }; Body: { username?: unknown; password?: unknown } }>(
    '/interaction/:uid/login',
    async (request, reply) => {
      const interaction = await details(request, reply)
      if (!interaction) return reply
      if (interaction.prompt.name !== 'login') return sendHtml(reply, 400, renderIdpError('invalid_request', 'Unexpected sign-in step.'))
      const username = typeof request.body?.username === 'string' ? request.body.username.slice(0, 64) : ''
      const password = typeof request.body?.password === 'string' ? request.body.password.slice(0, 256) : ''
      const user = username && password ? await users.authenticate(username, password) : undefined
      if (!user) {
        logger.info({ event: 'login_failed', interaction: interaction.uid }, 'login failed')
        return sendHtml(reply, 401, renderLogin({
          actionUrl: `/interaction/${interaction.uid}/login`,
          clientName: await clientName(interaction.params.client_id),
          username,
          error: LOGIN_FAILED,
        }))
      }
      logger.info({ event: 'login', sub: user.sub }, 'login succeeded')
      const url = await provider.interactionResult(request.raw, reply.raw, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false })
      return reply.redirect(url, 303)
    },
  )
}
