/**
 * The embedded OpenID Provider: oidc-provider 9 configured from the validated policy.
 *
 * - Authorization code with PKCE (S256 only), refresh tokens, userinfo, revocation, RP-initiated
 *   logout, discovery and JWKS come from oidc-provider; nothing of OIDC is hand-rolled here.
 * - Access tokens are RFC 9068 JWTs (`typ: at+jwt`, ES256), one audience per token: a client's
 *   login tokens are addressed to its own `loginAudience` only. A client cannot ask the
 *   authorization endpoint for another service's audience — that is what token exchange is for,
 *   under the exchange policy.
 * - The RFC 8693 grant is registered as an extension grant (token_exchange_grant.ts).
 * - client_credentials (the "M2M + header" workaround): oidc-provider authenticates and signs, the
 *   engine decides (src/exchange/client_credentials/), through the IdP's audited runner, from
 *   `getResourceServerInfo` — or from `defaultResource` when the request names no resource and the
 *   client has no single default, so no service token is ever issued without a decision. Only
 *   clients whose `clientCredentials` block is on, only for an audience it lists; the token is the
 *   client's own (`sub` = `client_id`), never a user's.
 */
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import type { Logger } from '../log/logger.js'
import type { IdpPolicy } from '../config/policy_file.js'
import type { SigningKeySet } from '../keys/signing_key_store.js'
import { SIGNING_ALGORITHM } from './keys.js'
import type { UserDirectory } from './users.js'
import type { OidcStorage } from './oidc_storage.js'
import type { IssuedTokenRegistry } from './issued_tokens.js'
import { defaultServiceResource } from '../exchange/client_credentials/decide.js'
import type { ClientCredentialsGrant } from '../exchange/client_credentials/grant.js'
import { OAuthError } from '../exchange/errors.js'
import type { GrantRunner } from '../exchange/runner.js'
import { GRANT_TYPE_TOKEN_EXCHANGE } from '../exchange/token_exchange/types.js'
import type { GrantParams } from '../exchange/types.js'
import { authenticatedClientOf, toProviderError } from './token_exchange_grant.js'
import type { Delegations } from './delegations.js'
import {
  renderDeviceCodeConfirm,
  renderDeviceCodeInput,
  renderDeviceDone,
  renderIdpError,
  renderLoggedOut,
  renderLogoutConfirm,
} from './views.js'

export interface ProviderOptions {
  issuer: string
  policy: IdpPolicy
  keys: SigningKeySet
  users: UserDirectory
  storage: OidcStorage
  issuedTokens: IssuedTokenRegistry
  cookieSecret: string
  logger: Logger
  /** The IdP's audited runner and the client_credentials grant it decides. */
  runner: GrantRunner
  clientCredentials: ClientCredentialsGrant
  /** Users' delegations to agents: the consent's grants, and `may_act` in their tokens. */
  delegations: Delegations
}

/** RFC 8628 §3.4. */
const GRANT_TYPE_DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code'

const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email']

export function createProvider(options: ProviderOptions): Provider {
  const { issuer, policy, keys, users, storage, issuedTokens, logger, runner, delegations } =
    options

  const targetsByResource = new Map<string, { audience: string; scopes: readonly string[] }>()
  for (const target of policy.exchange.targets.values()) {
    for (const uri of target.resourceUris)
      targetsByResource.set(uri, { audience: target.audience, scopes: target.scopes })
  }
  const loginResourceOf = (clientId: string): string | undefined => {
    const audience = policy.clients.get(clientId)?.loginAudience
    return audience ? policy.exchange.targets.get(audience)?.resourceUris[0] : undefined
  }
  const isFirstParty = (clientId: string) => policy.clients.get(clientId)?.firstParty === true
  const clientCredentialsOn = (clientId: string) =>
    policy.clientCredentials.clients.get(clientId)?.enabled === true
  const isClientCredentials = (ctx: KoaContextWithOIDC) =>
    ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials'
  /** The engine's client_credentials decision for this request: one audit event, or an error. */
  const decideClientCredentials = async (ctx: KoaContextWithOIDC) => {
    try {
      return await runner.run(options.clientCredentials, {
        params: ctx.oidc.params as GrantParams,
        client: authenticatedClientOf(ctx),
      })
    } catch (error) {
      if (error instanceof OAuthError) throw toProviderError(error)
      throw error
    }
  }

  const clients: NonNullable<Configuration['clients']> = [...policy.clients.values()].map(
    (client) => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      client_name: client.name,
      redirect_uris: client.redirectUris,
      post_logout_redirect_uris: client.postLogoutRedirectUris,
      // Back-Channel Logout 1.0: logout tokens carry `sid`, so an app ends exactly that session.
      ...(client.backchannelLogoutUri
        ? {
            backchannel_logout_uri: client.backchannelLogoutUri,
            backchannel_logout_session_required: true,
          }
        : {}),
      // A client without redirect URIs (an agent on the device flow) never uses the browser flow.
      response_types: client.redirectUris.length > 0 ? ['code'] : [],
      // Every client may *ask* for an exchange; the engine's policy decides (unauthorized_client
      // when its policy is off), so there is one decision point and the RFC's error code.
      grant_types: [
        ...(client.redirectUris.length > 0 ? ['authorization_code'] : []),
        'refresh_token',
        GRANT_TYPE_TOKEN_EXCHANGE,
        ...(clientCredentialsOn(client.clientId) ? ['client_credentials'] : []),
        // An agent signs the user in with RFC 8628: it has no browser of its own.
        ...(client.delegation ? [GRANT_TYPE_DEVICE_CODE] : []),
      ],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: SIGNING_ALGORITHM,
    }),
  )

  // oidc-provider refuses outbound requests to loopback and private addresses (SSRF protection).
  // The back-channel logout URIs of the policy are the operator's own apps, often on such an
  // address: only requests to exactly those URIs go without that check; everything else keeps it.
  const backchannelUris = new Set(
    [...policy.clients.values()].flatMap((client) =>
      client.backchannelLogoutUri ? [new URL(client.backchannelLogoutUri).href] : [],
    ),
  )
  const providerFetch = (url: URL | string, init: RequestInit & { dispatcher?: unknown }) => {
    if (backchannelUris.has(new URL(url).href) && init.method === 'POST') {
      const { dispatcher: _ssrfGuard, ...rest } = init
      return fetch(url, { ...rest, redirect: 'manual' })
    }
    return fetch(url, init)
  }

  const configuration: Configuration = {
    clients,
    fetch: providerFetch as Configuration['fetch'],
    adapter: storage.Adapter as unknown as Configuration['adapter'],
    jwks: keys.privateJwks() as Configuration['jwks'],
    cookies: {
      keys: [options.cookieSecret],
      names: {
        session: 'onbehalf_idp_session',
        interaction: 'onbehalf_idp_interaction',
        resume: 'onbehalf_idp_resume',
      },
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    clientDefaults: { id_token_signed_response_alg: SIGNING_ALGORITHM },
    enabledJWA: {
      idTokenSigningAlgValues: [SIGNING_ALGORITHM],
      userinfoSigningAlgValues: [SIGNING_ALGORITHM],
    },
    scopes: OIDC_SCOPES,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    // ID tokens carry the profile claims: the access token is for the app's own API, not userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    findAccount: async (_ctx, sub) => {
      const user = users.findBySub(sub)
      if (!user) return undefined
      return {
        accountId: user.sub,
        claims: async () => ({
          sub: user.sub,
          name: user.name,
          preferred_username: user.username,
          email: user.email,
          email_verified: true,
        }),
      }
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // First-party clients get their grant without a consent screen, limited to what they asked
    // for and what the target allows.
    loadExistingGrant: async (ctx) => {
      const { client, session } = ctx.oidc
      if (!client || !session) return undefined
      const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId)
      const existing = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined
      if (!isFirstParty(client.clientId) || !session.accountId) return existing
      const grant =
        existing ??
        new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId })
      const requested = [...ctx.oidc.requestParamScopes]
      grant.addOIDCScope(requested.filter((scope) => OIDC_SCOPES.includes(scope)).join(' '))
      for (const [indicator, resourceServer] of Object.entries(ctx.oidc.resourceServers ?? {})) {
        const allowed = new Set(String(resourceServer.scope ?? '').split(' '))
        grant.addResourceScope(indicator, requested.filter((scope) => allowed.has(scope)).join(' '))
      }
      await grant.save()
      return grant
    },
    // RFC 8693 §4.4: a token issued to an agent on a live delegation names the agent in may_act.
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== 'AccessToken') return undefined
      const { grantId, clientId, accountId } = token as unknown as {
        grantId?: string
        clientId?: string
        accountId?: string
      }
      const mayAct = await delegations.mayActFor({ grantId, clientId, accountId })
      return mayAct ? { may_act: mayAct } : undefined
    },
    features: {
      devInteractions: { enabled: false },
      // RFC 8628 for agents (`delegation` clients): the user enters the code at /device, signs in
      // and consents (interactions.ts); oidc-provider's forms carry their own xsrf token.
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource: async (ctx, form, _out, err) => {
          ctx.type = 'html'
          ctx.body = renderDeviceCodeInput(
            form,
            err
              ? (err as { userCode?: unknown; name?: string }).userCode ||
                (err as Error).name === 'NoCodeError'
                ? 'That code is not valid or has expired. Check it and try again.'
                : 'The request could not be completed. Start again from the app.'
              : undefined,
          )
        },
        userCodeConfirmSource: async (ctx, form, client, _deviceInfo, userCode) => {
          ctx.type = 'html'
          ctx.body = renderDeviceCodeConfirm(form, client.clientName ?? client.clientId, userCode)
        },
        successSource: async (ctx) => {
          const client = ctx.oidc.client
          ctx.type = 'html'
          ctx.body = renderDeviceDone(client?.clientName ?? client?.clientId ?? 'The app')
        },
      },
      revocation: { enabled: true },
      // RFC 9449 for oidc-provider's own grants (a login token bound to the client's key); the
      // exchange grant checks its proofs in the engine (src/exchange/token_exchange/dpop_binding.ts).
      dPoP: { enabled: true },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      // Every app in the IdP session is told when it ends (Back-Channel Logout 1.0), so "signed
      // out of every app" on the confirm page is true for apps with a back-channel URI.
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          const session = ctx.oidc.session
          const names = Object.keys(session?.authorizations ?? {}).map(
            (clientId) => policy.clients.get(clientId)?.name ?? clientId,
          )
          const requester = ctx.oidc.client?.clientId
          ctx.body = renderLogoutConfirm(form, {
            signedInApps: names,
            requestingApp: requester
              ? (policy.clients.get(requester)?.name ?? requester)
              : undefined,
          })
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = renderLoggedOut()
        },
      },
      resourceIndicators: {
        enabled: true,
        // A login's access token is for the client's own audience unless it names a resource.
        defaultResource: async (ctx, client, oneOf) => {
          if (oneOf) return oneOf
          if (!client) return undefined
          if (isClientCredentials(ctx)) {
            // A service token with no resource named: its single allowed audience, if it has one;
            // otherwise the engine refuses it here (oidc-provider would issue one without asking).
            const resource = defaultServiceResource(
              policy.clientCredentials,
              policy.clientCredentials.clients.get(client.clientId),
            )
            if (resource === undefined) await decideClientCredentials(ctx)
            return resource
          }
          return loginResourceOf(client.clientId)
        },
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resourceIndicator, client) => {
          if (isClientCredentials(ctx)) {
            // client_credentials: decided by the engine; oidc-provider signs what it decided.
            const decision = await decideClientCredentials(ctx)
            return {
              audience: decision.audience,
              scope: decision.scopes.join(' '),
              accessTokenFormat: 'jwt',
              accessTokenTTL: decision.lifetimeSeconds,
              jwt: { sign: { alg: SIGNING_ALGORITHM } },
            }
          }
          const target = targetsByResource.get(resourceIndicator)
          // Only the client's own login audience: any other audience must go through token exchange.
          if (!target || !client || loginResourceOf(client.clientId) !== resourceIndicator) {
            throw new errors.InvalidTarget()
          }
          return {
            audience: target.audience,
            scope: target.scopes.join(' '),
            accessTokenFormat: 'jwt',
            accessTokenTTL: policy.accessTokenLifetimeSeconds,
            jwt: { sign: { alg: SIGNING_ALGORITHM } },
          }
        },
      },
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: policy.accessTokenLifetimeSeconds,
      ClientCredentials: policy.accessTokenLifetimeSeconds,
      AuthorizationCode: 60,
      // RFC 8628 §3.2 expires_in: the user has 10 minutes to enter the code and consent.
      DeviceCode: 600,
      IdToken: 3600,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 14 * 24 * 3600,
      RefreshToken: 8 * 3600,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html'
      ctx.body = renderIdpError(String(out.error), String(out.error_description ?? ''))
    },
  }

  const provider = new Provider(issuer, configuration)

  // Every JWT access token oidc-provider issues is recorded (jti → grant) so that an exchange can
  // refuse a subject token whose grant was revoked (logout, refresh token revoked) or that was
  // itself revoked. JWT access tokens are otherwise not stored by oidc-provider.
  // ('issued' is emitted for tokens that are not stored; the typings list only the stored kind.)
  // client_credentials tokens too: an agent's own token is the actor token of its exchanges, which
  // must be live like any subject (verify_access_token.ts).
  const recordIssued = (token: {
    jti: string
    grantId?: string
    clientId: string
    accountId?: string
    exp?: number
  }) => {
    // Awaited through `issuedTokens.settled()` before the token response leaves (app.ts); a
    // failed write turns that response into a server error, never a token without a record.
    issuedTokens
      .record({
        jti: token.jti,
        grantId: token.grantId,
        clientId: token.clientId,
        sub: token.accountId,
        exp: token.exp,
      })
      .catch(() => {})
  }
  for (const event of ['access_token.issued', 'client_credentials.issued'])
    (provider as unknown as NodeJS.EventEmitter).on(event, recordIssued)
  provider.on('server_error', (_ctx: KoaContextWithOIDC, error: Error) =>
    logger.error({ err: error }, 'idp server error'),
  )
  provider.on(
    'grant.error',
    (ctx: KoaContextWithOIDC, error: Error & { error_detail?: string; error?: string }) => {
      logger.info(
        {
          event: 'grant_error',
          clientId: ctx.oidc.client?.clientId,
          error: error.error,
          detail: error.error_detail,
        },
        'grant refused',
      )
    },
  )
  return provider
}
