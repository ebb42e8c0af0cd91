/**
 * Typed OAuth errors for every token endpoint onbehalf serves (RFC 6749 §5.2, RFC 8693 §2.2.2), and
 * `toErrorResponse`, the one serialiser of their answers.
 *
 * One vocabulary, as jose's and Fastify's errors: `error` is the protocol's code (what the client
 * reads), `code` a stable `ERR_OAUTH_…` name per class (what code and logs switch on), `statusCode`
 * the HTTP status. Every error carries two texts: `description`, a fixed sentence that is safe to
 * send to the client, and `detail`, the precise private reason that goes to the audit log and
 * server logs only. The description never tells an unknown token from an expired or revoked one (no
 * oracle, lesson S19). Extra response headers (`WWW-Authenticate`, `Retry-After`) travel on the
 * error, so every edge answers them the same way.
 *
 * Our mapping (documented, peers differ):
 * - any subject or actor token that is invalid or unacceptable by policy → `invalid_request` with
 *   one fixed description per token (RFC 8693 §2.2.2 says invalid_request; Spring uses invalid_grant);
 * - an unsupported token type URI → `invalid_request` (not `unsupported_token_type`): the RFC 8693
 *   code exists, but a single code for every request fault keeps the surface smaller;
 * - too many requests → 429 `temporarily_unavailable` (RFC 6749 §4.1.2.1's code for "try again
 *   later") with `Retry-After`; a body beyond the limit → `invalid_request` (413 while reading it).
 *
 * Untrusted input yields an `OAuthError`; a misconfiguration or API misuse throws a plain `TypeError`
 * at start-up (jose's split).
 *
 * @example
 * ```ts
 * throw new InvalidRequest({ description: SUBJECT_TOKEN_INVALID, detail: 'subject token expired' })
 * throw new TooManyRequests({ retryAfterSeconds: 12, detail: 'per-IP token limit' })
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
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'temporarily_unavailable'
  | 'server_error'

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

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({})

export abstract class OAuthError extends Error {
  /** The stable name of the class, e.g. `ERR_OAUTH_INVALID_REQUEST`. */
  abstract readonly code: `ERR_OAUTH_${string}`
  /** The protocol's error code, sent as `error`. */
  abstract readonly error: OAuthErrorCode
  abstract readonly statusCode: number
  readonly description: string
  readonly detail: string | undefined
  /** Response headers this answer needs besides the JSON body (none by default). */
  readonly headers: Readonly<Record<string, string>> = NO_HEADERS

  constructor(defaultDescription: string, options: OAuthErrorOptions = {}) {
    const description = options.description ?? defaultDescription
    super(description, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.description = description
    this.detail = options.detail
  }
}

export class InvalidRequest extends OAuthError {
  static readonly code = 'ERR_OAUTH_INVALID_REQUEST'
  readonly code = InvalidRequest.code
  readonly error = 'invalid_request'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('request is invalid', options)
  }
}

export class InvalidClient extends OAuthError {
  static readonly code = 'ERR_OAUTH_INVALID_CLIENT'
  readonly code = InvalidClient.code
  readonly error = 'invalid_client'
  readonly statusCode = 401
  /**
   * Set when the client tried HTTP Basic authentication: the answer then carries
   * `WWW-Authenticate: Basic` (RFC 6749 §5.2).
   */
  readonly wwwAuthenticate: string | undefined
  override readonly headers: Readonly<Record<string, string>>
  constructor(options?: OAuthErrorOptions & { basicChallenge?: boolean }) {
    super('client authentication failed', options)
    this.wwwAuthenticate = options?.basicChallenge ? 'Basic realm="onbehalf"' : undefined
    this.headers =
      this.wwwAuthenticate === undefined
        ? NO_HEADERS
        : Object.freeze({ 'WWW-Authenticate': this.wwwAuthenticate })
  }
}

/**
 * RFC 6749 §5.2. Not used by token exchange (see the mapping above); the authentik-style JWT
 * federation grant (`jwt_federation/`) answers every assertion fault with it, as authentik does.
 */
export class InvalidGrant extends OAuthError {
  static readonly code = 'ERR_OAUTH_INVALID_GRANT'
  readonly code = InvalidGrant.code
  readonly error = 'invalid_grant'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('grant request is invalid', options)
  }
}

export class UnauthorizedClient extends OAuthError {
  static readonly code = 'ERR_OAUTH_UNAUTHORIZED_CLIENT'
  readonly code = UnauthorizedClient.code
  readonly error = 'unauthorized_client'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('client is not allowed to use token exchange', options)
  }
}

export class InvalidScope extends OAuthError {
  static readonly code = 'ERR_OAUTH_INVALID_SCOPE'
  readonly code = InvalidScope.code
  readonly error = 'invalid_scope'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('requested scope is not allowed', options)
  }
}

export class InvalidTarget extends OAuthError {
  static readonly code = 'ERR_OAUTH_INVALID_TARGET'
  readonly code = InvalidTarget.code
  readonly error = 'invalid_target'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('requested target is not allowed', options)
  }
}

export class UnsupportedGrantType extends OAuthError {
  static readonly code = 'ERR_OAUTH_UNSUPPORTED_GRANT_TYPE'
  readonly code = UnsupportedGrantType.code
  readonly error = 'unsupported_grant_type'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('grant_type is not supported', options)
  }
}

/**
 * RFC 9449 §5: the `DPoP` proof is missing where a binding requires one, malformed, stale,
 * replayed, or from a key other than the one a presented token is bound to. One public sentence;
 * which check failed is the `detail`.
 */
export class InvalidDpopProof extends OAuthError {
  static readonly code = 'ERR_OAUTH_INVALID_DPOP_PROOF'
  readonly code = InvalidDpopProof.code
  readonly error = 'invalid_dpop_proof'
  readonly statusCode = 400
  constructor(options?: OAuthErrorOptions) {
    super('DPoP proof is invalid or missing', options)
  }
}

/**
 * RFC 9449 §8: the proof lacks a nonce this token endpoint handed out (missing, stale or wrong).
 * 400 with the fresh nonce in `DPoP-Nonce`, for the client to retry with; nothing is minted.
 */
export class UseDpopNonce extends OAuthError {
  static readonly code = 'ERR_OAUTH_USE_DPOP_NONCE'
  readonly code = UseDpopNonce.code
  readonly error = 'use_dpop_nonce'
  readonly statusCode = 400
  override readonly headers: Readonly<Record<string, string>>
  constructor(options: OAuthErrorOptions & { nonce: string }) {
    super('Authorization server requires nonce in DPoP proof', options)
    this.headers = Object.freeze({ 'DPoP-Nonce': options.nonce })
  }
}

/**
 * 429: an abuse limit was reached. `temporarily_unavailable` is the registered code for "try again
 * later"; `Retry-After` (RFC 9110 §10.2.3) says when, in whole seconds.
 */
export class TooManyRequests extends OAuthError {
  static readonly code = 'ERR_OAUTH_TOO_MANY_REQUESTS'
  readonly code = TooManyRequests.code
  readonly error = 'temporarily_unavailable'
  readonly statusCode = 429
  readonly retryAfterSeconds: number
  override readonly headers: Readonly<Record<string, string>>
  constructor(options: OAuthErrorOptions & { retryAfterSeconds: number }) {
    super('too many requests, retry later', options)
    if (!Number.isFinite(options.retryAfterSeconds) || options.retryAfterSeconds < 0) {
      throw new TypeError(
        'TooManyRequests: retryAfterSeconds must be a number of seconds, 0 or more',
      )
    }
    this.retryAfterSeconds = Math.max(1, Math.ceil(options.retryAfterSeconds))
    this.headers = Object.freeze({ 'Retry-After': String(this.retryAfterSeconds) })
  }
}

/**
 * A request body beyond the limit, refused before (or while) it is read: `invalid_request`, and the
 * connection is closed so the rest of the body is never read. 413 (RFC 9110 §15.5.14) by default;
 * `statusCode: 400` where the endpoint has always answered the plain OAuth status for it.
 */
export class PayloadTooLarge extends OAuthError {
  static readonly code = 'ERR_OAUTH_PAYLOAD_TOO_LARGE'
  readonly code = PayloadTooLarge.code
  readonly error = 'invalid_request'
  readonly statusCode: 400 | 413
  override readonly headers: Readonly<Record<string, string>> = Object.freeze({
    Connection: 'close',
  })
  constructor(options: OAuthErrorOptions & { statusCode?: 400 | 413 } = {}) {
    super('request body is too large', options)
    this.statusCode = options.statusCode ?? 413
  }
}

export class ServerError extends OAuthError {
  static readonly code = 'ERR_OAUTH_SERVER_ERROR'
  readonly code = ServerError.code
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
  static readonly code = 'ERR_OAUTH_TEMPORARILY_UNAVAILABLE'
  readonly code = TemporarilyUnavailable.code
  readonly error = 'temporarily_unavailable'
  readonly statusCode = 503
  /** Seconds; sent as `Retry-After`. */
  readonly retryAfterSeconds: number
  override readonly headers: Readonly<Record<string, string>>
  constructor(options?: OAuthErrorOptions & { retryAfterSeconds?: number }) {
    super('the request cannot be processed right now, retry later', options)
    this.retryAfterSeconds = Math.max(1, Math.ceil(options?.retryAfterSeconds ?? 2))
    this.headers = Object.freeze({ 'Retry-After': String(this.retryAfterSeconds) })
  }
}

/** Discriminated union: `switch (err.code)` narrows to the subclass. */
export type AnyOAuthError =
  | InvalidRequest
  | InvalidClient
  | InvalidGrant
  | UnauthorizedClient
  | InvalidScope
  | InvalidTarget
  | UnsupportedGrantType
  | InvalidDpopProof
  | UseDpopNonce
  | TooManyRequests
  | PayloadTooLarge
  | TemporarilyUnavailable
  | ServerError

export interface ErrorResponse {
  statusCode: number
  body: { error: OAuthErrorCode; error_description: string }
  /** Response headers of the answer (`WWW-Authenticate`, `Retry-After`, `Connection`). */
  headers: Readonly<Record<string, string>>
}

/**
 * The one serialiser behind every HTTP edge (the IdP's token endpoint and its limits, the STS).
 * Anything that is not an `OAuthError` becomes a generic `server_error` 500; `detail` and `cause`
 * are never part of the body.
 */
export function toErrorResponse(err: unknown): ErrorResponse {
  if (!(err instanceof OAuthError)) {
    return {
      statusCode: 500,
      body: { error: 'server_error', error_description: 'internal server error' },
      headers: {},
    }
  }
  return {
    statusCode: err.statusCode,
    body: { error: err.error, error_description: err.description },
    headers: { ...err.headers },
  }
}
