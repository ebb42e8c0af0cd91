/**
 * The authentik-style JWT federation re-issue at the IdP's `/token` endpoint (the grant lives in
 * src/exchange/jwt_federation/, run by the IdP's one audited runner). oidc-provider cannot express it: it would read
 * `client_assertion` as a private_key_jwt client assertion. So this middie middleware sits in front
 * of oidc-provider and looks ONLY at `POST /token` requests without an `Authorization` header
 * (App A and App B always authenticate with HTTP Basic, so their requests keep streaming straight
 * to oidc-provider, untouched).
 *
 * Such a request's body is buffered (at most `bodyLimit` bytes, else 413 before more is read). A
 * federation request (`isFederationRequest`) is answered here; anything else is handed to
 * oidc-provider as the already-read `req.body` string. oidc-provider accepts a pre-parsed body and
 * prints a one-time warning ("already parsed request body detected") the first time it sees one —
 * expected, and harmless here.
 *
 * Note: oidc-provider-level middleware (the token endpoint rate limits in app.ts) does not see the
 * requests answered here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { parse as parseQueryString } from 'node:querystring'
import { InvalidRequest, PayloadTooLarge, toErrorResponse } from '../exchange/errors.js'
import type { JwtFederationGrant } from '../exchange/jwt_federation/grant.js'
import { isFederationRequest } from '../exchange/jwt_federation/parse_request.js'
import type { FederationParams } from '../exchange/jwt_federation/types.js'
import type { GrantRunner } from '../exchange/runner.js'
import { NO_STORE_HEADERS } from '../exchange/token_response.js'
import type { Logger } from '../log/logger.js'

export interface FederationMiddlewareOptions {
  readonly runner: GrantRunner
  readonly grant: JwtFederationGrant
  readonly logger: Logger
  /** Largest body buffered, bytes. Default 32 KiB. */
  readonly bodyLimit?: number
}

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void

const FORM = /^application\/x-www-form-urlencoded\b/i

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLarge()
  const chunks: Buffer[] = []
  let received = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    received += chunk.length
    if (received > limit) throw new PayloadTooLarge()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, received).toString('utf8')
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    ...NO_STORE_HEADERS,
    ...headers,
  })
  res.end(JSON.stringify(body))
}

function sendError(res: ServerResponse, err: unknown, logger: Logger): void {
  const { statusCode, body, headers } = toErrorResponse(err)
  if (statusCode >= 500) logger.error({ err }, 'jwt federation failed')
  sendJson(res, statusCode, body, headers)
}

/** Only `POST /token` without Authorization: everything else passes untouched. */
function isCandidate(req: IncomingMessage): boolean {
  if (req.method !== 'POST' || req.headers.authorization !== undefined) return false
  const path = (req.url ?? '').split('?')[0]
  return path === '/token' && FORM.test(req.headers['content-type'] ?? '')
}

export function createFederationMiddleware(options: FederationMiddlewareOptions): Middleware {
  const { runner, grant, logger } = options
  const bodyLimit = options.bodyLimit ?? 32 * 1024

  return function jwtFederationMiddleware(req, res, next) {
    if (!isCandidate(req)) return next()
    readBody(req, bodyLimit).then(
      async (text) => {
        const params = parseQueryString(text) as FederationParams
        if (!isFederationRequest(params)) {
          // Not ours: oidc-provider reads the body we already consumed from `req.body`.
          ;(req as IncomingMessage & { body?: string }).body = text
          return next()
        }
        try {
          sendJson(res, 200, await runner.run(grant, params))
        } catch (err) {
          sendError(res, err, logger)
        }
      },
      (err: unknown) => {
        if (err instanceof PayloadTooLarge) return sendError(res, err, logger)
        logger.warn({ err }, 'token request body could not be read')
        sendError(
          res,
          new InvalidRequest({ description: 'request body could not be read' }),
          logger,
        )
      },
    )
  }
}
