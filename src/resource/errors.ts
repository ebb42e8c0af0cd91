/**
 * Errors a resource server answers to a bearer-token request (RFC 6750 §3.1).
 *
 * Public text and private reason are different fields, as in oidc-provider: `description` is one
 * fixed sentence per code (no oracle telling an expired token from a forged one), `detail` is the
 * precise reason for logs and audit only, `cause` keeps the jose error. The mapping from jose reads
 * the error `code`, never its message.
 *
 * Signatures are verified with node:crypto (src/jws/verify_jws.ts); `fromJwsError` turns
 * its reasons into the jose errors the kit has always reported as `cause` (`ERR_JWS_*`,
 * `ERR_JOSE_ALG_NOT_ALLOWED`, `ERR_JWKS_NO_MATCHING_KEY`, …), so `cause.code` means
 * what it meant when jose verified.
 *
 * Misuse of the kit's API (bad options) throws a plain `TypeError` at start-up instead.
 */
import { errors } from 'jose'
import { JwsVerificationError, type JwsFailureReason } from '../jws/verify_jws.js'

export type ResourceAuthErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'temporarily_unavailable'

const STATUS: Readonly<Record<ResourceAuthErrorCode, number>> = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  // RFC 9449 §7.1: a DPoP-bound token with no valid proof from its key.
  invalid_dpop_proof: 401,
  // RFC 9449 §9: the proof lacks the nonce this server handed out (sent again in `DPoP-Nonce`).
  use_dpop_nonce: 401,
  // Not an RFC 6750 code: the key set could not be fetched, so no token can be judged right now.
  temporarily_unavailable: 503,
}

const DESCRIPTION: Readonly<Record<ResourceAuthErrorCode, string>> = {
  invalid_request: 'the request is malformed',
  invalid_token: 'the access token is invalid',
  insufficient_scope: 'the access token does not grant access to this resource',
  invalid_dpop_proof: 'the DPoP proof is invalid or missing',
  use_dpop_nonce: 'the DPoP proof must carry the nonce in DPoP-Nonce',
  temporarily_unavailable: 'the access token cannot be checked right now',
}

/** The same sentences for a `Txn-Token` header (draft-ietf-oauth-transaction-tokens-10 §12). */
const TXN_DESCRIPTION: Readonly<Record<ResourceAuthErrorCode, string>> = {
  invalid_request: 'the request is malformed',
  invalid_token: 'the txn token is invalid',
  insufficient_scope: 'the txn token does not authorize this call',
  // A txn token is not DPoP-bound: should this code ever reach one, it reads as malformed.
  invalid_dpop_proof: 'the request is malformed',
  use_dpop_nonce: 'the request is malformed',
  temporarily_unavailable: 'the txn token cannot be checked right now',
}

/** The stable name of each answer, as jose's `ERR_…` codes. */
const CODE = {
  invalid_request: 'ERR_BEARER_INVALID_REQUEST',
  invalid_token: 'ERR_BEARER_INVALID_TOKEN',
  insufficient_scope: 'ERR_BEARER_INSUFFICIENT_SCOPE',
  invalid_dpop_proof: 'ERR_BEARER_INVALID_DPOP_PROOF',
  use_dpop_nonce: 'ERR_BEARER_USE_DPOP_NONCE',
  temporarily_unavailable: 'ERR_BEARER_TEMPORARILY_UNAVAILABLE',
} as const satisfies Readonly<Record<ResourceAuthErrorCode, `ERR_BEARER_${string}`>>

const MISSING_CREDENTIALS = 'a bearer access token is required'
const MISSING_TXN_TOKEN = 'a txn token is required'

export interface ResourceAuthErrorOptions {
  /** Private reason, for logs and audit; never sent to the client. */
  readonly detail: string
  readonly cause?: unknown
  /** Scopes the resource needs (insufficient_scope only); advertised in `WWW-Authenticate`. */
  readonly requiredScopes?: readonly string[]
  /**
   * False when the request carried no bearer credentials at all: RFC 6750 §3.1 then wants a bare
   * challenge (401, no error attributes).
   */
  readonly credentialsSent?: boolean
  /** What was checked: the bearer access token (default) or a `Txn-Token` header. */
  readonly credential?: 'access_token' | 'txn_token'
  /** The authentication scheme the challenge answers (RFC 9449 §7.1: `DPoP`). Default `Bearer`. */
  readonly scheme?: 'Bearer' | 'DPoP'
  /** RFC 9449 §9: the nonce to send in `DPoP-Nonce` with this answer. */
  readonly dpopNonce?: string
}

export class ResourceAuthError extends Error {
  override name = 'ResourceAuthError'
  /** Stable name of the answer, e.g. `ERR_BEARER_INVALID_TOKEN`. */
  readonly code: (typeof CODE)[ResourceAuthErrorCode]
  /** RFC 6750 §3.1 error code (what the client reads). */
  readonly error: ResourceAuthErrorCode
  readonly statusCode: number
  readonly description: string
  readonly detail: string
  readonly requiredScopes: readonly string[]
  readonly credentialsSent: boolean
  readonly credential: 'access_token' | 'txn_token'
  readonly scheme: 'Bearer' | 'DPoP'
  readonly dpopNonce: string | undefined

  constructor(error: ResourceAuthErrorCode, options: ResourceAuthErrorOptions) {
    const credentialsSent = options.credentialsSent ?? true
    const credential = options.credential ?? 'access_token'
    const description =
      credential === 'txn_token'
        ? credentialsSent
          ? TXN_DESCRIPTION[error]
          : MISSING_TXN_TOKEN
        : credentialsSent
          ? DESCRIPTION[error]
          : MISSING_CREDENTIALS
    super(description, options.cause === undefined ? undefined : { cause: options.cause })
    this.error = error
    this.code = CODE[error]
    this.credentialsSent = credentialsSent
    this.credential = credential
    this.scheme = options.scheme ?? 'Bearer'
    this.dpopNonce = options.dpopNonce
    // RFC 6750 §3.1: a request without any credentials is answered 401 whatever the code.
    this.statusCode = this.credentialsSent ? STATUS[error] : 401
    this.description = description
    this.detail = options.detail
    this.requiredScopes = Object.freeze([...(options.requiredScopes ?? [])])
  }
}

/** Token and key-set faults from jose that say something about the presented token. */
const TOKEN_FAULTS: ReadonlySet<string> = new Set<errors.JOSEError['code']>([
  'ERR_JWT_EXPIRED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWT_INVALID',
  'ERR_JWS_INVALID',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  // Unknown `crit` extensions and unsupported algorithms.
  'ERR_JOSE_NOT_SUPPORTED',
  // Unknown `kid`, even after the key set was fetched again.
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
])

function joseCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && code.startsWith('ERR_J') ? code : undefined
}

/**
 * Maps an error thrown while verifying a token to a `ResourceAuthError`. Token faults become
 * `invalid_token`; anything else (key set unreachable, timed out, malformed) becomes
 * `temporarily_unavailable`, so a broken JWKS endpoint is never reported as a bad token.
 */
export function fromJoseError(err: unknown): ResourceAuthError {
  if (err instanceof ResourceAuthError) return err
  const code = joseCode(err)
  if (code !== undefined && TOKEN_FAULTS.has(code)) {
    const claim = (err as { claim?: unknown }).claim
    const reason = (err as { reason?: unknown }).reason
    const detail =
      typeof claim === 'string' ? `${code}: claim ${claim} ${String(reason ?? 'invalid')}` : code
    return new ResourceAuthError('invalid_token', { detail, cause: err })
  }
  return new ResourceAuthError('temporarily_unavailable', {
    detail: `key set unavailable: ${code ?? (err instanceof Error ? err.name : 'unknown error')}`,
    cause: err,
  })
}

/** The jose error each token-condemning JWS failure used to be, when jose verified. */
const JOSE_ERROR_FOR: Readonly<
  Record<
    Exclude<JwsFailureReason, 'key_unavailable' | 'key_header_present'>,
    new (message: string, options?: { cause?: unknown }) => errors.JOSEError
  >
> = {
  malformed: errors.JWSInvalid,
  header_invalid: errors.JWSInvalid,
  payload_invalid: errors.JWTInvalid,
  alg_not_allowed: errors.JOSEAlgNotAllowed,
  // We understand no `crit` extension (RFC 7515 §4.1.11).
  crit_unsupported: errors.JOSENotSupported,
  key_not_found: errors.JWKSNoMatchingKey,
  key_mismatch: errors.JWKSNoMatchingKey,
  signature_invalid: errors.JWSSignatureVerificationFailed,
}

/**
 * Maps an error thrown by the JWS verifier (or by the key lookup under it) to a
 * `ResourceAuthError`: a token fault becomes `invalid_token` with the matching jose error as
 * `cause`; keys that cannot be obtained become `temporarily_unavailable`; anything else goes
 * through `fromJoseError`.
 */
export function fromJwsError(err: unknown): ResourceAuthError {
  if (!(err instanceof JwsVerificationError)) return fromJoseError(err)
  switch (err.reason) {
    case 'key_unavailable':
      return new ResourceAuthError('temporarily_unavailable', {
        detail: `key set unavailable: ${err.message}`,
        cause: err,
      })
    case 'key_header_present':
      // RFC 8725 §3.10: keys never come from the token (`jku`, `x5u`, `jwk`).
      return new ResourceAuthError('invalid_token', {
        detail: `header parameter refused: ${err.message}`,
        cause: err,
      })
    default: {
      const cause = new JOSE_ERROR_FOR[err.reason](err.message, { cause: err })
      return new ResourceAuthError('invalid_token', {
        detail: `${cause.code}: ${err.message}`,
        cause,
      })
    }
  }
}
