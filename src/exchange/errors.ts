/**
 * Typed OAuth errors for the token exchange engine (RFC 6749 §5.2, RFC 8693 §2.2.2).
 *
 * Every error carries two texts: `description`, a fixed sentence that is safe to send to the client,
 * and `detail`, the precise private reason that goes to the audit log and server logs only. The
 * description never tells an unknown token from an expired or revoked one (no oracle, lesson S19).
 *
 * Our mapping (documented, peers differ):
 * - any subject or actor token that is invalid or unacceptable by policy → `invalid_request` with
 *   one fixed description per token (RFC 8693 §2.2.2 says invalid_request; Spring uses invalid_grant);
 * - an unsupported token type URI → `invalid_request` (not `unsupported_token_type`): the RFC 8693
 *   code exists, but a single code for every request fault keeps the surface smaller.
 *
 * Untrusted input yields an `OAuthError`; a misconfiguration or API misuse throws a plain `TypeError`
 * at start-up (jose's split).
 *
 * @example
 * ```ts
 * throw new InvalidRequest({ description: SUBJECT_TOKEN_INVALID, detail: 'subject token expired' })
 * ```
 */

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'invalid_scope'
  | 'invalid_target'
  | 'unsupported_grant_type'
  | 'server_error'
  | 'temporarily_unavailable'

export interface OAuthErrorOptions {
  /** Safe public text; each subclass has a default. */
  description?: string
  /** Private reason for audit and logs; never sent to the client. */
  detail?: string
  cause?: unknown
}

/** Fixed public descriptions, one per situation. */
export const SUBJECT_TOKEN_INVALID = 'subject_token is invalid'
export const ACTOR_TOKEN_INVALID = 'actor_token is invalid'

export abstract class OAuthError extends Error {
  abstract readonly error: OAuthErrorCode
  abstract readonly statusCode: number
  readonly description: string
  readonly detail: string | undefined

  constructor(defaultDescription: string, options: OAuthErrorOptions = {}) {
    const description = options.description ?? defaultDescription
    super(description, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.description = description
    this.detail = options.detail
  }
}

export class InvalidRequest extends OAuthError {
  readonly error = 'invalid_request'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('request is invalid', options)
  }
}

export class InvalidClient extends OAuthError {
  readonly error = 'invalid_client'
  readonly statusCode = 401
  /**
   * Set when the client tried HTTP Basic authentication: the HTTP edge then answers with
   * `WWW-Authenticate: Basic` (RFC 6749 §5.2).
   */
  readonly wwwAuthenticate: string | undefined
  constructor(options?: OAuthErrorOptions & { basicChallenge?: boolean }) {
    super('client authentication failed', options)
    this.wwwAuthenticate = options?.basicChallenge ? 'Basic realm="onbehalf"' : undefined
  }
}

/**
 * RFC 6749 §5.2. Not used by token exchange (see the mapping above); the authentik-style JWT
 * federation path (`federation.ts`) answers every assertion fault with it, as authentik does.
 */
export class InvalidGrant extends OAuthError {
  readonly error = 'invalid_grant'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('grant request is invalid', options)
  }
}

export class UnauthorizedClient extends OAuthError {
  readonly error = 'unauthorized_client'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('client is not allowed to use token exchange', options)
  }
}

export class InvalidScope extends OAuthError {
  readonly error = 'invalid_scope'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('requested scope is not allowed', options)
  }
}

export class InvalidTarget extends OAuthError {
  readonly error = 'invalid_target'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('requested target is not allowed', options)
  }
}

export class UnsupportedGrantType extends OAuthError {
  readonly error = 'unsupported_grant_type'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('grant_type is not supported', options)
  }
}

export class ServerError extends OAuthError {
  readonly error = 'server_error'
  readonly statusCode = 500
  constructor(options?: OAuthErrorOptions) {
    super('internal server error', options)
  }
}

/**
 * RFC 6749 §4.1.2.1's `temporarily_unavailable`, as 503 with `Retry-After`: the request cannot be
 * judged right now (an upstream issuer's keys cannot be fetched). It is not a verdict on the
 * token, so a client retries instead of discarding a good token.
 */
export class TemporarilyUnavailable extends OAuthError {
  readonly error = 'temporarily_unavailable'
  readonly statusCode = 503
  /** Seconds; sent as `Retry-After`. */
  readonly retryAfterSeconds: number
  constructor(options?: OAuthErrorOptions & { retryAfterSeconds?: number }) {
    super('the request cannot be processed right now, retry later', options)
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 2
  }
}

/** Discriminated union: `switch (err.error)` narrows to the subclass. */
export type AnyOAuthError =
  | InvalidRequest
  | InvalidClient
  | InvalidGrant
  | UnauthorizedClient
  | InvalidScope
  | InvalidTarget
  | UnsupportedGrantType
  | ServerError
  | TemporarilyUnavailable

export interface ErrorResponse {
  statusCode: number
  body: { error: OAuthErrorCode; error_description: string }
  /** Extra response headers (`WWW-Authenticate` after failed Basic authentication). */
  headers: Readonly<Record<string, string>>
}

/**
 * The one serialiser behind the HTTP edges. Anything that is not an `OAuthError` becomes a generic
 * `server_error` 500; `detail` and `cause` are never part of the body.
 */
export function toErrorResponse(err: unknown): ErrorResponse {
  if (!(err instanceof OAuthError)) {
    return {
      statusCode: 500,
      body: { error: 'server_error', error_description: 'internal server error' },
      headers: {},
    }
  }
  const headers: Record<string, string> = {}
  if (err instanceof InvalidClient && err.wwwAuthenticate !== undefined) {
    headers['WWW-Authenticate'] = err.wwwAuthenticate
  }
  if (err instanceof TemporarilyUnavailable) headers['Retry-After'] = String(err.retryAfterSeconds)
  return {
    statusCode: err.statusCode,
    body: { error: err.error, error_description: err.description },
    headers,
  }
}
