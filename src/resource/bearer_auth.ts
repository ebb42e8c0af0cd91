/**
 * Fastify wrapper over the framework-free bearer authenticator (`./bearer_request.ts`): reads the
 * bearer token (RFC 6750 §2.1), verifies it, sets `request.accessToken`, and answers failures per
 * RFC 6750 §3 with JSON `{ error, error_description }` and a `WWW-Authenticate` challenge.
 *
 * Only the Authorization header is accepted, exactly once; a token in the query or in a form body
 * is refused. Tokens never reach a log; failures log the code and the private detail.
 */
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestAsyncHookHandler,
} from 'fastify'
import fp from 'fastify-plugin'
import {
  bearerErrorResponse,
  checkRealm,
  createBearerAuthenticator,
  readPresentedToken,
  type BearerAuthenticatorOptions,
  type ChallengeOptions,
} from './bearer_request.js'
import { fromJoseError, type ResourceAuthError } from './errors.js'
import { DPOP_ALGORITHMS } from '../jwt/dpop_proof.js'
import type { ProtectedResourceMetadata } from './protected_resource_metadata.js'
import type { VerifiedAccessToken } from './verifier.js'

export interface RequireBearerOptions extends BearerAuthenticatorOptions {
  /** `realm` of the challenge. */
  readonly realm: string
  /** RFC 9728 §5.1: the metadata URL named in every challenge (`resource_metadata`). */
  readonly resourceMetadata?: string
}

export type BearerHook = onRequestAsyncHookHandler

export interface BearerAuthPluginOptions {
  /** Default realm for `fastify.requireBearer`. */
  readonly realm: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireBearer` once the token passed every check; null before and on failure. */
    accessToken: VerifiedAccessToken | null
    /** Set by `requireBearer` when it refused the request (for audit hooks). */
    accessTokenError: ResourceAuthError | null
  }
  interface FastifyInstance {
    requireBearer(options: Omit<RequireBearerOptions, 'realm'> & { realm?: string }): BearerHook
  }
}

function bearerRequestOf(request: FastifyRequest) {
  return {
    headers: request.headers,
    method: request.method,
    rawHeaders: request.raw.rawHeaders,
    url: request.url,
    body: request.body,
  }
}

/** The access token of the request under `Bearer` or `DPoP` (RFC 9449), once `requireBearer` passed. */
export function readAccessToken(request: FastifyRequest): string {
  return readPresentedToken(bearerRequestOf(request), true).token
}

/** Answers a refused request. Never includes a stack, the detail or the token. */
export function sendAuthError(
  reply: FastifyReply,
  realm: string,
  err: ResourceAuthError,
  options: ChallengeOptions = {},
): FastifyReply {
  const { statusCode, headers, body } = bearerErrorResponse(err, realm, options)
  return reply.code(statusCode).headers(headers).send(body)
}

/**
 * A hook (for `onRequest` or `preHandler`; use `preHandler` so a token in a form body is seen)
 * that lets through only requests with a valid bearer token.
 *
 * @example
 * ```ts
 * app.get('/api/todos', { preHandler: requireBearer({ verifier, realm: 'app-b' }) }, handler)
 * ```
 */
export function requireBearer(options: RequireBearerOptions): BearerHook {
  const realm = checkRealm(options.realm)
  const authenticate = createBearerAuthenticator(options)
  const challenge: ChallengeOptions = {
    ...(options.dpop === undefined
      ? {}
      : { dpopAlgorithms: options.dpop.algorithms ?? DPOP_ALGORITHMS }),
    ...(options.resourceMetadata === undefined
      ? {}
      : { resourceMetadata: options.resourceMetadata }),
  }

  return async function bearerHook(request, reply) {
    request.accessToken = null
    request.accessTokenError = null
    try {
      request.accessToken = await authenticate(bearerRequestOf(request))
    } catch (cause) {
      const err = fromJoseError(cause)
      request.accessTokenError = err
      const entry = { bearerAuth: { outcome: 'denied', error: err.error, detail: err.detail } }
      if (err.statusCode >= 500) request.log.warn(entry, 'bearer token could not be checked')
      else request.log.info(entry, 'bearer token refused')
      return sendAuthError(reply, realm, err, challenge)
    }
  }
}

async function bearerAuthPlugin(
  fastify: FastifyInstance,
  options: BearerAuthPluginOptions,
): Promise<void> {
  const defaultRealm = checkRealm(options.realm)
  fastify.decorateRequest('accessToken', null)
  fastify.decorateRequest('accessTokenError', null)
  fastify.decorate(
    'requireBearer',
    (opts: Omit<RequireBearerOptions, 'realm'> & { realm?: string }) =>
      requireBearer({ ...opts, realm: opts.realm ?? defaultRealm }),
  )
}

/**
 * Decorates `request.accessToken`/`accessTokenError` and `fastify.requireBearer(...)`.
 *
 * @example
 * ```ts
 * await app.register(bearerAuth, { realm: 'app-b' })
 * app.get('/api/todos', { preHandler: app.requireBearer({ verifier }) }, async (request) =>
 *   listTodos(request.accessToken!.sub),
 * )
 * ```
 */
export const bearerAuth = fp(bearerAuthPlugin, { name: 'onbehalf-bearer-auth', fastify: '5.x' })

/**
 * Serves RFC 9728 protected resource metadata at its well-known path: public, cacheable, no token
 * needed (register it outside the context `requireBearer` guards).
 *
 * @example
 * ```ts
 * registerProtectedResourceMetadata(app, createProtectedResourceMetadata({ resource, authorizationServers }))
 * ```
 */
export function registerProtectedResourceMetadata(
  fastify: FastifyInstance,
  metadata: ProtectedResourceMetadata,
): void {
  fastify.get(metadata.path, async (_request, reply) =>
    reply
      .header('cache-control', 'public, max-age=300')
      .type('application/json; charset=utf-8')
      .send(metadata.document),
  )
}
