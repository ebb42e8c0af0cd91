/**
 * The steps every JWT the resource kit accepts goes through before its own claims are read — an
 * RFC 9068 access token (./verifier.ts) and a transaction token (./txn_token.ts) alike: where the
 * keys come from (the issuer's JWKS, or keys held locally), and per token size → compact JWS with
 * pinned algorithms and the issuer's key (src/jws/verify_jws.ts) → no `x5c` (RFC 8725 §3.10) →
 * the registered claims (`typ`, `iss`, `aud`, times, required claims: ./jwt_claims.ts). Claims are
 * looked at only after the signature holds (jose's `jwtVerify`).
 *
 * @example
 * ```ts
 * const jws = createJwsVerifier({ algorithms, resolveKey: createKeySource(options, issuer, algorithms, DEFAULT_KEY_CACHE) })
 * const { claims } = await verifySignedToken(jws, token, { typ: 'at+jwt', issuer, audience, … }, 'token')
 * ```
 */
import type { KeyObject } from 'node:crypto'
import type { JWTPayload } from 'jose'
import type { JwsHeader, JwsVerifier, KeyResolver } from '../jws/verify_jws.js'
import { createRemoteKeySet, type KeyCacheSettings } from '../keys/remote_jwks.js'
import type { Logger } from '../log/logger.js'
import { fromJwsError, ResourceAuthError } from './errors.js'
import { checkRegisteredClaims, type RegisteredClaimOptions } from './jwt_claims.js'

/** Longest token accepted before any parsing (RFC 8693 S14: cap token size). */
export const MAX_TOKEN_LENGTH = 8192

export interface KeySourceOptions {
  /** The issuer's JWKS. Exactly one of `jwksUri` and `keyResolver`. */
  readonly jwksUri?: string | URL | undefined
  /** Keys held locally: `({ kid, alg, iss }) => KeyObject | undefined`, possibly async. */
  readonly keyResolver?: KeyResolver | undefined
  /** Where a failed key-set fetch is reported. */
  readonly logger?: Logger | undefined
  /** Called on each failed key-set fetch (a metric, say). */
  readonly onKeyFetchFailure?: (() => void) | undefined
}

/** Checks the key options once (a `TypeError` on misuse) and returns the key lookup. */
export function createKeySource(
  options: KeySourceOptions,
  issuer: string,
  algorithms: readonly string[],
  cache: KeyCacheSettings,
): KeyResolver {
  const { jwksUri, keyResolver } = options
  if ((jwksUri === undefined) === (keyResolver === undefined)) {
    throw new TypeError('exactly one of "jwksUri" and "keyResolver" is required')
  }
  if (keyResolver !== undefined) {
    if (typeof keyResolver !== 'function') throw new TypeError('"keyResolver" must be a function')
    return keyResolver
  }
  if (!(jwksUri instanceof URL) && (typeof jwksUri !== 'string' || jwksUri.length === 0)) {
    throw new TypeError('"jwksUri" must be a non-empty string')
  }
  const url = URL.parse(jwksUri instanceof URL ? jwksUri.href : jwksUri)
  if (url === null) throw new TypeError('"jwksUri" must be an absolute URL')
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError('"jwksUri" must be an http(s) URL')
  }
  // The issuer's key set, fetched on first use, parsed once into KeyObjects (src/keys).
  const keys = createRemoteKeySet({
    issuer,
    jwksUri: url.href,
    algorithms,
    cache,
    logger: options.logger,
    onFetchFailure: options.onKeyFetchFailure,
  })
  return ({ kid, alg }): Promise<KeyObject | undefined> => keys.getKey(kid, alg)
}

/**
 * Size, signature, `x5c`, registered claims; throws `ResourceAuthError` (`invalid_token`, or
 * `temporarily_unavailable` when the keys cannot be had). `label` names the token in `detail`.
 */
export async function verifySignedToken(
  jws: JwsVerifier,
  token: string,
  claimOptions: RegisteredClaimOptions,
  label: string,
): Promise<{ readonly header: JwsHeader; readonly claims: JWTPayload }> {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw new ResourceAuthError('invalid_token', { detail: `${label} empty or too long` })
  }
  let header: JwsHeader
  let claims: JWTPayload
  try {
    ;({ header, payload: claims } = await jws.verify(token))
  } catch (err) {
    throw fromJwsError(err)
  }
  // verify_jws ignores `x5c`; a token naming a certificate chain is refused all the same.
  if (header.x5c !== undefined) {
    throw new ResourceAuthError('invalid_token', { detail: 'header parameter x5c refused' })
  }
  checkRegisteredClaims(header, claims, claimOptions)
  return { header, claims }
}
