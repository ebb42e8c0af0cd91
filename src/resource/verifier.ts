/**
 * Verifies JWT access tokens (RFC 9068) at a resource server, including delegated tokens from an
 * RFC 8693 exchange (`act`).
 *
 * Shaped like jose's `createRemoteJWKSet`: options are checked once (a `TypeError` on misuse), and
 * the result is an async function. The cryptography is node:crypto with keys parsed once into
 * KeyObjects: the project's JWS verifier (src/jws/verify_jws.ts) over the shared remote
 * key cache (src/keys/remote_jwks.ts), which the STS uses for its upstreams too. Per token, in
 * order: size → compact JWS with pinned algorithms (no `none`/HS*, no `crit`, keys never from
 * `jku`/`x5u`/`jwk`) → signature with the issuer's key by `kid` → no `x5c` (RFC 8725 §3.10) →
 * `typ: at+jwt`, presence of `iss aud exp iat sub client_id jti`, `iss`, `aud`, `iat`/`nbf`/`exp`
 * with the clock tolerance (jwt_claims.ts, jose's order) → claim types → `azp`/`client_id` agree →
 * actor chain → caller policy → scopes.
 *
 * Errors: token faults are `invalid_token` 401 (`cause` the jose error jose used to throw, e.g.
 * `ERR_JWT_EXPIRED`), policy faults `insufficient_scope` 403, and keys that cannot be fetched
 * `temporarily_unavailable` 503, so a broken JWKS endpoint is never reported as a bad token.
 */
import type { JWTPayload } from 'jose'
import { createJwsVerifier, type KeyResolver } from '../jws/verify_jws.js'
import {
  DEFAULT_KEY_CACHE,
  MAX_COOLDOWN_SECONDS,
  type KeyCacheSettings,
} from '../keys/remote_jwks.js'
import type { Logger } from '../log/logger.js'
import { systemClock, type Clock } from '../time/clock.js'
import { checkCallerAllowed, checkScopes, parseActorChain, parseScopes } from './checks.js'
import { ResourceAuthError } from './errors.js'
import { createKeySource, MAX_TOKEN_LENGTH, verifySignedToken } from './signed_token.js'

export type { KeyLookup, KeyResolver } from '../jws/verify_jws.js'

/** How the remote key set is cached (milliseconds, jose's option names). */
export interface JwksCacheOptions {
  /**
   * Least time between two fetches of the key set, at most 10 000. A token with an unknown `kid`
   * waits for the next fetch (at most this long) instead of being refused: a made-up `kid` can
   * never make a valid token fail. Default 1 000.
   */
  readonly cooldownDuration?: number
  /** Keys are fresh this long after a fetch, then refreshed in the background. Default 300 000. */
  readonly cacheMaxAge?: number
  /**
   * How long cached keys keep serving past freshness while the key set cannot be fetched.
   * Default 3 600 000.
   */
  readonly staleIfErrorDuration?: number
  /** Per request. Default 5 000. */
  readonly timeoutDuration?: number
}

export interface AccessTokenVerifierOptions {
  /** Expected `iss`, exactly. */
  readonly issuer: string
  /** This resource server's name; the token's `aud` must contain it. */
  readonly audience: string
  /** The authorization server's JWKS. Exactly one of `jwksUri` and `keyResolver`. */
  readonly jwksUri?: string | URL
  /**
   * Keys held locally (tests, or a key store): `({ kid, alg, iss }) => KeyObject | undefined`, a
   * node:crypto public KeyObject, possibly async. Exactly one of `jwksUri` and `keyResolver`.
   */
  readonly keyResolver?: KeyResolver
  /** Pinned signature algorithms; asymmetric only. Default `['ES256']`. */
  readonly algorithms?: readonly string[]
  /** Default 30. */
  readonly clockToleranceSeconds?: number
  /** Who may call (see `checkCallerAllowed`). Omitted: any caller the issuer vouches for. */
  readonly allowedCallers?: readonly string[]
  /** Scopes every token must carry. */
  readonly requiredScopes?: readonly string[]
  /**
   * Accept delegated tokens only (RFC 8693 §4.1): an `act` claim must name the service acting for
   * the user. A service's own token (client credentials) and a user's token taken straight from
   * login are refused with `insufficient_scope`. Default false.
   */
  readonly requireActor?: boolean
  /** Caching of the `jwksUri` key set. */
  readonly jwksOptions?: JwksCacheOptions
  /** Where a failed key-set fetch is reported (`upstream_keys_fetch_failed`). */
  readonly logger?: Logger
  /** Called once per failed fetch of the `jwksUri` key set (after its retries): for a metric. */
  readonly onKeyFetchFailure?: () => void
  /** The clock, for tests. */
  readonly now?: Clock
  /**
   * Successful verifications are remembered per token string, so a token used for many calls (App A
   * keeps an exchanged token for minutes) costs one signature check. A hit still expires with the
   * token (`exp` + tolerance) and at most `maxAgeSeconds` after it was verified, which bounds how
   * long a key withdrawn from the JWKS keeps vouching for tokens it signed. `false` turns it off.
   * Default `{ maxEntries: 10000, maxAgeSeconds: 60 }`.
   */
  readonly verifiedTokenCache?:
    { readonly maxEntries?: number; readonly maxAgeSeconds?: number } | false
}

export interface VerifiedAccessToken {
  /** The user (or service) the token is about. */
  readonly sub: string
  /** RFC 9068 `client_id`: the client the token was issued to. */
  readonly clientId: string
  /** `azp`, or `client_id` when absent. */
  readonly azp: string
  /** Who is calling: the outermost actor (`act.sub`) when delegated, else `azp`. */
  readonly caller: string
  /** Actor `sub`s, outermost (current) first; empty when not delegated. */
  readonly actorChain: readonly string[]
  readonly scopes: readonly string[]
  readonly jti: string
  /** Expiry, seconds since the epoch. */
  readonly exp: number
  readonly claims: Readonly<JWTPayload>
}

export type AccessTokenVerifier = ((token: string) => Promise<VerifiedAccessToken>) & {
  readonly issuer: string
  readonly audience: string
}

const REQUIRED_CLAIMS = ['exp', 'iat', 'sub', 'client_id', 'jti']

function checkNonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`"${name}" must be a non-empty string`)
  }
  return value
}

function checkStringList(name: string, value: unknown, allowEmpty: boolean): string[] {
  if (!Array.isArray(value) || (!allowEmpty && value.length === 0)) {
    throw new TypeError(`"${name}" must be ${allowEmpty ? 'an' : 'a non-empty'} array of strings`)
  }
  for (const item of value) {
    if (typeof item !== 'string' || item.length === 0 || /\s/.test(item)) {
      throw new TypeError(`"${name}" must hold non-empty strings without whitespace`)
    }
  }
  return [...value]
}

function checkAlgorithms(value: unknown): string[] {
  const algorithms = checkStringList('algorithms', value, false)
  for (const alg of algorithms) {
    // A key set holds public keys: `none` and HMAC would let the public key act as a secret.
    if (alg === 'none' || alg.startsWith('HS')) {
      throw new TypeError(`"algorithms" must not contain ${alg}`)
    }
  }
  return algorithms
}

function checkDuration(name: string, value: number | undefined, fallbackSeconds: number): number {
  if (value === undefined) return fallbackSeconds
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new TypeError(`"jwksOptions.${name}" must be a number of milliseconds, 0 or more`)
  }
  return value / 1000
}

/** The `jwksOptions` in milliseconds, as the key cache's settings in seconds. */
function keyCacheSettings(cache: JwksCacheOptions): KeyCacheSettings {
  const cooldownSeconds = checkDuration(
    'cooldownDuration',
    cache.cooldownDuration,
    DEFAULT_KEY_CACHE.cooldownSeconds,
  )
  if (cooldownSeconds > MAX_COOLDOWN_SECONDS) {
    throw new TypeError(
      `"jwksOptions.cooldownDuration" must be at most ${MAX_COOLDOWN_SECONDS * 1000}`,
    )
  }
  return {
    cooldownSeconds,
    maxAgeSeconds: checkDuration('cacheMaxAge', cache.cacheMaxAge, DEFAULT_KEY_CACHE.maxAgeSeconds),
    staleIfErrorSeconds: checkDuration(
      'staleIfErrorDuration',
      cache.staleIfErrorDuration,
      DEFAULT_KEY_CACHE.staleIfErrorSeconds,
    ),
    timeoutMs:
      checkDuration('timeoutDuration', cache.timeoutDuration, DEFAULT_KEY_CACHE.timeoutMs / 1000) *
      1000,
  }
}

/**
 * Checks the options once (a `TypeError` on misuse) and returns the verifier: an async function
 * from a token string to the verified token, throwing `ResourceAuthError`.
 *
 * @example
 * ```ts
 * const verify = createAccessTokenVerifier({
 *   issuer: 'http://localhost:9000',
 *   audience: 'app-b',
 *   jwksUri: 'http://localhost:9000/jwks',
 *   allowedCallers: ['app-a'],
 *   requiredScopes: ['todos:read'],
 *   requireActor: true,
 * })
 * const token = await verify(bearerToken) // throws ResourceAuthError
 * console.log(token.sub, 'via', token.actorChain)
 * ```
 */
export function createAccessTokenVerifier(
  options: AccessTokenVerifierOptions,
): AccessTokenVerifier {
  if (typeof options !== 'object' || options === null) throw new TypeError('options required')
  const issuer = checkNonEmptyString('issuer', options.issuer)
  const audience = checkNonEmptyString('audience', options.audience)
  const algorithms = checkAlgorithms(options.algorithms ?? ['ES256'])
  const clockTolerance = options.clockToleranceSeconds ?? 30
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0 || clockTolerance > 300) {
    throw new TypeError('"clockToleranceSeconds" must be a number from 0 to 300')
  }
  const allowedCallers =
    options.allowedCallers === undefined
      ? undefined
      : new Set(checkStringList('allowedCallers', options.allowedCallers, false))
  const requiredScopes = Object.freeze(
    checkStringList('requiredScopes', options.requiredScopes ?? [], true),
  )
  const requireActor = options.requireActor ?? false
  if (typeof requireActor !== 'boolean') throw new TypeError('"requireActor" must be a boolean')
  const now = options.now
  if (now !== undefined && typeof now !== 'function') {
    throw new TypeError('"now" must be a function')
  }
  const cacheSettings =
    options.verifiedTokenCache === false
      ? undefined
      : { maxEntries: 10_000, maxAgeSeconds: 60, ...options.verifiedTokenCache }
  if (
    cacheSettings &&
    (!Number.isInteger(cacheSettings.maxEntries) ||
      cacheSettings.maxEntries < 1 ||
      !(cacheSettings.maxAgeSeconds > 0))
  ) {
    throw new TypeError(
      '"verifiedTokenCache" needs a positive integer maxEntries and a positive maxAgeSeconds',
    )
  }
  /** token → verified result and the second until which it may be served without re-verifying. */
  const verified = new Map<
    string,
    { readonly result: VerifiedAccessToken; readonly until: number }
  >()
  // Keys come only from the configured source, whatever the token's header says.
  const jws = createJwsVerifier({
    algorithms,
    resolveKey: createKeySource(
      options,
      issuer,
      algorithms,
      // Checked only when the keys are fetched (a keyResolver ignores them).
      options.jwksUri === undefined
        ? DEFAULT_KEY_CACHE
        : keyCacheSettings(options.jwksOptions ?? {}),
    ),
  })

  function currentSeconds(): number {
    const seconds = Math.floor((now ?? systemClock)())
    if (!Number.isFinite(seconds)) throw new TypeError('"now" must return epoch seconds')
    return seconds
  }

  async function verifyAccessToken(token: string): Promise<VerifiedAccessToken> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new ResourceAuthError('invalid_token', { detail: 'token empty or too long' })
    }
    if (cacheSettings) {
      const hit = verified.get(token)
      if (hit !== undefined) {
        if (currentSeconds() < hit.until) return hit.result
        verified.delete(token)
      }
    }
    const result = await verifyUncached(token)
    if (cacheSettings) {
      const seconds = currentSeconds()
      if (verified.size >= cacheSettings.maxEntries)
        verified.delete(verified.keys().next().value as string)
      verified.set(token, {
        result,
        until: Math.min(seconds + cacheSettings.maxAgeSeconds, result.exp + clockTolerance),
      })
    }
    return result
  }

  async function verifyUncached(token: string): Promise<VerifiedAccessToken> {
    const { claims } = await verifySignedToken(
      jws,
      token,
      {
        typ: 'at+jwt',
        issuer,
        audience,
        requiredClaims: REQUIRED_CLAIMS,
        optionalStringClaims: ['azp'],
        clockToleranceSeconds: clockTolerance,
        now: currentSeconds(),
      },
      'token',
    )

    // Checked above: non-empty strings.
    const sub = claims.sub as string
    const clientId = claims.client_id as string
    const jti = claims.jti as string
    const azp = (claims.azp as string | undefined) ?? clientId
    if (azp !== clientId) {
      throw new ResourceAuthError('invalid_token', { detail: 'azp differs from client_id' })
    }
    const actorChain = parseActorChain(claims)
    if (requireActor && actorChain.length === 0) {
      throw new ResourceAuthError('insufficient_scope', {
        detail: 'token is not delegated (no act)',
      })
    }
    const caller = actorChain[0] ?? azp
    checkCallerAllowed({ caller, clientId, azp }, allowedCallers)
    const scopes = parseScopes(claims)
    checkScopes(scopes, requiredScopes)

    return Object.freeze({
      sub,
      clientId,
      azp,
      caller,
      actorChain: Object.freeze(actorChain),
      scopes: Object.freeze(scopes),
      jti,
      exp: claims.exp as number,
      claims: Object.freeze(claims),
    })
  }

  return Object.defineProperties(verifyAccessToken, {
    issuer: { value: issuer, enumerable: true },
    audience: { value: audience, enumerable: true },
  }) as AccessTokenVerifier
}
