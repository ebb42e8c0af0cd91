/**
 * buildIdp: the embedded OpenID Provider as a Fastify application — oidc-provider mounted with
 * @fastify/middie, the login interaction routes, the shared stylesheet and a health check.
 * Returns a ready, not listening instance; the launcher (src/cli) calls `listen`.
 *
 * Storage: `${dataDir}/idp-keys.json` (signing keys) and `${dataDir}/idp.sqlite` (sessions, grants,
 * codes, refresh tokens, issued access token records), created on first start.
 */
import middie from '@fastify/middie'
import Fastify, { type FastifyInstance } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import type Provider from 'oidc-provider'
import type { KoaContextWithOIDC } from 'oidc-provider'
import type { Env } from '../config/env.js'
import { loadPolicyFile, type IdpPolicy } from '../config/policy_file.js'
import { fastifyLogOptions, type Logger } from '../log/logger.js'
import { createJwsSigner } from '../exchange/jwt/sign_jws.js'
import { createJwsVerifier, type JwsVerifier } from '../exchange/jwt/verify_jws.js'
import { createTokenExchange } from '../exchange/exchange.js'
import type { AuditEvent } from '../exchange/audit.js'
import { readFileSync } from 'node:fs'
import { openKeyStore, RETIRED_KEY_PUBLISH_SECONDS, SIGNING_ALGORITHM, type KeyStore } from './keys.js'
import { loadUserDirectory } from './users.js'
import { openOidcStorage } from './sqlite_adapter.js'
import { createIssuedTokenRegistry, type IssuedTokenRegistry } from './issued_tokens.js'
import { createProvider } from './provider.js'
import { interactionRoutes } from './interactions.js'
import * as tokenExchangeGrant from './token_exchange_grant.js'
import { createFederationMiddleware } from './federation.js'
import { createIdpMinter } from './minter.js'

export interface IdpOptions {
  env: Env
  logger: Logger
  /** Defaults to env.IDP_ISSUER. */
  issuer?: string
  /** Defaults to the file at env.POLICY_FILE. */
  policy?: IdpPolicy
}

export interface Idp {
  app: FastifyInstance
  provider: Provider
  keys: KeyStore
  issuer: string
  policy: IdpPolicy
}

/** Paths Fastify answers itself; everything else goes to oidc-provider. */
const OWN_PATHS = /^\/(interaction\/|assets\/|healthz(?:$|\?))/

/** A verifier for JWTs this IdP signed: pinned algorithm, keys only from our own key store. */
function createOwnTokenVerifier(issuer: string, keys: KeyStore): JwsVerifier {
  return createJwsVerifier({
    algorithms: [SIGNING_ALGORITHM],
    resolveKey: ({ iss, kid }) => (iss === issuer && kid ? keys.publicKeyFor(kid) : undefined),
  })
}

/**
 * RFC 7009 revocation of JWT access tokens. oidc-provider does not store JWT access tokens and
 * answers `unsupported_token_type` for them (RFC 7009 §2.2.1 allows that). onbehalf keeps its own
 * record of every access token it issued, so it can do better: when the token is one this IdP
 * signed for the authenticated client, its record is deleted — it can no longer be exchanged —
 * and the answer becomes the standard 200.
 */
function revokeJwtAccessTokens(verifier: JwsVerifier, issuedTokens: IssuedTokenRegistry, logger: Logger) {
  return async function revokeJwtAccessToken(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    await next()
    const body = ctx.body as { error?: string } | undefined
    if (ctx.oidc?.route !== 'revocation' || ctx.status !== 400 || body?.error !== 'unsupported_token_type') return
    const token = ctx.oidc.params?.token
    const clientId = ctx.oidc.client?.clientId
    if (typeof token !== 'string' || !clientId) return
    try {
      const { payload } = await verifier.verify(token)
      if (payload.client_id !== clientId || typeof payload.jti !== 'string') return
      await issuedTokens.revoke(payload.jti)
      logger.info({ event: 'token_revoked', clientId, jti: payload.jti }, 'access token revoked')
      ctx.status = 200
      ctx.body = ''
    } catch {
      // Not a token this IdP signed: oidc-provider's answer stands.
    }
  }
}

export async function buildIdp(options: IdpOptions): Promise<Idp> {
  const { env, logger } = options
  const issuer = (options.issuer ?? env.IDP_ISSUER).replace(/\/+$/, '')
  const policy = options.policy ?? loadPolicyFile(env.POLICY_FILE, env, issuer)
  const keys = openKeyStore({
    file: join(env.DATA_DIR, 'idp-keys.json'),
    publishRetiredForSeconds: RETIRED_KEY_PUBLISH_SECONDS,
  })
  const users = loadUserDirectory(env.USERS_FILE)
  const storage = openOidcStorage(join(env.DATA_DIR, 'idp.sqlite'))
  const issuedTokens = createIssuedTokenRegistry(storage)
  const verifier = createOwnTokenVerifier(issuer, keys)
  const signer = createJwsSigner({ alg: SIGNING_ALGORITHM, kid: keys.active.kid, privateKey: keys.active.privateKey })

  const audit = (event: AuditEvent) => logger.info({ audit: event }, `token exchange ${event.outcome}`)
  // One minter for every token the IdP issues outside oidc-provider (exchange, federation).
  const minter = createIdpMinter(signer, issuedTokens)
  const exchange = createTokenExchange({
    policy: policy.exchange,
    verifier,
    subjectStatus: { isActive: (subject) => issuedTokens.isActive(subject.jti) },
    minter,
    audit,
  })

  const provider = createProvider({ issuer, policy, keys, users, storage, issuedTokens, cookieSecret: env.IDP_COOKIE_SECRET, logger })
  provider.registerGrantType(
    tokenExchangeGrant.grantType,
    tokenExchangeGrant.createHandler(exchange),
    tokenExchangeGrant.parameters,
    tokenExchangeGrant.allowedDuplicateParameters,
  )
  provider.use(revokeJwtAccessTokens(verifier, issuedTokens, logger))

  const app = Fastify({ ...fastifyLogOptions(logger, 'idp'), bodyLimit: 64 * 1024 })
  await app.register(middie)
  // authentik-style JWT federation (POST /token without Authorization only), before oidc-provider.
  app.use(createFederationMiddleware({ policy, verifier, issuedTokens, minter, logger }))
  const oidcCallback = provider.callback() as (req: IncomingMessage, res: ServerResponse) => void
  app.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if (OWN_PATHS.test(req.url ?? '')) return next()
    oidcCallback(req, res)
  })
  const stylesheet = readFileSync(new URL('../web/assets/style.css', import.meta.url), 'utf8')
  app.get('/assets/style.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300').send(stylesheet))
  app.get('/healthz', async () => ({ ok: true, issuer }))
  await app.register(interactionRoutes, { provider, users, logger })
  const sweep = setInterval(() => storage.sweepExpired(), 60_000)
  sweep.unref()
  app.addHook('onClose', async () => {
    clearInterval(sweep)
    storage.close()
  })
  await app.ready()
  return { app, provider, keys, issuer, policy }
}
