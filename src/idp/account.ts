/**
 * The IdP's account page, `/account/delegations`: the signed-in user (the IdP session cookie, as
 * oidc-provider reads it) sees their delegations to agents and revokes them (delegations.ts).
 * Revoke is a POST with a CSRF token bound to the IdP session; the answer is a redirect back to
 * the list (303, post/redirect/get). Without an IdP session the page says how to sign in.
 */
import formbody from '@fastify/formbody'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import type { IdpPolicy } from '../config/policy_file.js'
import type { Logger } from '../log/logger.js'
import type { CsrfTokens } from './csrf.js'
import type { Delegations } from './delegations.js'
import type { UserDirectory } from './users.js'
import { formatUntil, renderAccountDelegations, renderIdpError } from './views.js'

export const ACCOUNT_DELEGATIONS_PATH = '/account/delegations'
const ACCOUNT_CSRF = 'account'

export interface AccountOptions {
  provider: Provider
  policy: IdpPolicy
  users: UserDirectory
  delegations: Delegations
  csrf: CsrfTokens
  logger: Logger
}

function sendHtml(reply: FastifyReply, status: number, body: string) {
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(body)
}

export async function accountRoutes(app: FastifyInstance, options: AccountOptions): Promise<void> {
  const { provider, policy, users, delegations, csrf, logger } = options
  await app.register(formbody, { bodyLimit: 4 * 1024 })

  /** The IdP session's user and the session's stable uid, when signed in. */
  async function signedIn(request: FastifyRequest, reply: FastifyReply) {
    const session = await provider.Session.get({ req: request.raw, res: reply.raw } as never)
    if (!session.accountId) return undefined
    return { sub: session.accountId, sessionUid: session.uid }
  }

  function notSignedIn(reply: FastifyReply) {
    return sendHtml(
      reply,
      401,
      renderIdpError(
        'login_required',
        'You are not signed in at the identity provider. Sign in through an app (App A, or `onbehalf agent login`), then come back.',
      ),
    )
  }

  app.get<{ Querystring: { revoked?: string } }>(
    ACCOUNT_DELEGATIONS_PATH,
    async (request, reply) => {
      const user = await signedIn(request, reply)
      if (!user) return notSignedIn(reply)
      const rows = await delegations.list(user.sub)
      const nameOf = (clientId: string) => policy.clients.get(clientId)?.name ?? clientId
      return sendHtml(
        reply,
        200,
        renderAccountDelegations({
          username: users.findBySub(user.sub)?.username ?? user.sub,
          csrfToken: csrf.create(ACCOUNT_CSRF, user.sessionUid),
          ...(request.query.revoked === '1'
            ? { notice: 'Revoked. That app can no longer act for you.' }
            : {}),
          delegations: rows.map((row) => ({
            id: row.id,
            agentName: nameOf(row.clientId),
            audienceName: nameOf(row.audience),
            scopes: row.scopes,
            since: formatUntil(row.createdAt),
            until: formatUntil(row.expiresAt),
          })),
        }),
      )
    },
  )

  app.post<{ Params: { id: string }; Body: { csrf?: unknown } }>(
    `${ACCOUNT_DELEGATIONS_PATH}/:id/revoke`,
    async (request, reply) => {
      const user = await signedIn(request, reply)
      if (!user) return notSignedIn(reply)
      if (!csrf.verify(ACCOUNT_CSRF, user.sessionUid, request.body?.csrf)) {
        logger.warn({ event: 'account_csrf_refused' }, 'account form refused: bad csrf token')
        return sendHtml(
          reply,
          403,
          renderIdpError(
            'invalid_request',
            'This form has expired. Reload the page and try again.',
          ),
        )
      }
      const record = await delegations.revoke(provider, user.sub, request.params.id)
      if (!record) {
        return sendHtml(reply, 404, renderIdpError('not_found', 'No such delegation.'))
      }
      logger.info(
        {
          event: 'delegation_revoked',
          delegation: record.id,
          clientId: record.clientId,
          sub: user.sub,
        },
        'delegation revoked',
      )
      return reply.redirect(`${ACCOUNT_DELEGATIONS_PATH}?revoked=1`, 303)
    },
  )
}
