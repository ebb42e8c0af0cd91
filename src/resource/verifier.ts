/**
 * Verifies JWT access tokens (RFC 9068) at a resource server, including delegated tokens from an
 * RFC 8693 exchange (`act`).
 *
 * Shaped like jose's `createRemoteJWKSet`: options are checked once (a `TypeError` on misuse), and
 * the result is an async function. Per token, in order: size → jose `jwtVerify` with pinned
 * algorithms, `typ: at+jwt`, `iss`, `aud`, `exp`/`nbf` and the presence of `exp iat sub client_id
 * jti` (unknown `crit` extensions are refused by jose) → claim types → `azp`/`client_id` agree →
 * actor chain → caller policy → scopes. Keys come only from the configured JWKS URL or resolver;
 * a token header naming its own key (`jku`, `x5u`, `jwk`, `x5c`) is refused (RFC 8725 §3.10).
 */
import {
  createRemoteJWKSet,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type RemoteJWKSetOptions,
} from 'jose'
import {
  checkCallerAllowed,
  checkScopes,
  checkStringClaim,
  parseActorChain,
  parseOptionalStringClaim,
  parseScopes,
} from './checks.js'
import { ResourceAuthError, fromJoseError } from './errors.js'

export interface AccessTokenVerifierOptions {
  /** Expected `iss`, exactly. */
  readonly issuer: string
  /** This resource server's name; the token's `aud` must contain it. */
  readonly audience: string
  /** The authorization server's JWKS. Exactly one of `jwksUri` and `keyResolver`. */
  readonly jwksUri?: string | URL
  /** A jose key resolver (tests, or keys held locally). Exactly one of `jwksUri` and `keyResolver`. */
  readonly keyResolver?: JWTVerifyGetKey
  /** Pinned signature algorithms; asymmetric only. Default `['ES256']`. */
  readonly algorithms?: readonly string[]
  /** Default 30. */
  readonly clockToleranceSeconds?: number
  /** Who may call (see `checkCallerAllowed`). Omitted: any caller the issuer vouches for. */
  readonly allowedCallers?: readonly string[]
  /** Scopes every token must carry. */
  readonly requiredScopes?: readonly string[]
  /** Passed to `createRemoteJWKSet` (milliseconds). */
  readonly jwksOptions?: Pick<
    RemoteJWKSetOptions,
    'cooldownDuration' | 'cacheMaxAge' | 'timeoutDuration'
  >
  /** The clock, for tests. */
  readonly now?: () => Date
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

/** Longest token accepted before any parsing (RFC 8693 S14: cap token size). */
export const MAX_TOKEN_LENGTH = 8192

const HEADER_KEY_LOCATIONS = ['jku', 'x5u', 'jwk', 'x5c'] as const
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

function createKeySource(options: AccessTokenVerifierOptions): JWTVerifyGetKey {
  const { jwksUri, keyResolver } = options
  if ((jwksUri === undefined) === (keyResolver === undefined)) {
    throw new TypeError('exactly one of "jwksUri" and "keyResolver" is required')
  }
  if (keyResolver !== undefined) {
    if (typeof keyResolver !== 'function') throw new TypeError('"keyResolver" must be a function')
    return keyResolver
  }
  let url: URL
  try {
    url = new URL(jwksUri instanceof URL ? jwksUri.href : checkNonEmptyString('jwksUri', jwksUri))
  } catch (err) {
    throw err instanceof TypeError && err.message.startsWith('"')
      ? err
      : new TypeError('"jwksUri" must be an absolute URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError('"jwksUri" must be an http(s) URL')
  }
  return createRemoteJWKSet(url, options.jwksOptions)
}

/**
 * @example
 * const verify = createAccessTokenVerifier({
 *   issuer: 'http://localhost:9000',
 *   audience: 'app-b',
 *   jwksUri: 'http://localhost:9000/jwks',
 *   allowedCallers: ['app-a'],
 *   requiredScopes: ['todos:read'],
 * })
 * const token = await verify(bearerToken) // throws ResourceAuthError
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
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
  const now = options.now
  if (now !== undefined && typeof now !== 'function') throw new TypeError('"now" must be a function')
  const keySource = createKeySource(options)

  const getKey: JWTVerifyGetKey = (protectedHeader, token) => {
    for (const name of HEADER_KEY_LOCATIONS) {
      if (name in protectedHeader || (token.header && name in token.header)) {
        throw new ResourceAuthError('invalid_token', { detail: `header parameter ${name} refused` })
      }
    }
    return keySource(protectedHeader, token)
  }

  async function verifyAccessToken(token: string): Promise<VerifiedAccessToken> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new ResourceAuthError('invalid_token', { detail: 'token empty or too long' })
    }
    let claims: JWTPayload
    try {
      ;({ payload: claims } = await jwtVerify(token, getKey, {
        algorithms,
        typ: 'at+jwt',
        issuer,
        audience,
        clockTolerance,
        requiredClaims: REQUIRED_CLAIMS,
        currentDate: now?.(),
      }))
    } catch (err) {
      throw fromJoseError(err)
    }

    const sub = checkStringClaim(claims, 'sub')
    const clientId = checkStringClaim(claims, 'client_id')
    const jti = checkStringClaim(claims, 'jti')
    const azp = parseOptionalStringClaim(claims, 'azp') ?? clientId
    if (azp !== clientId) {
      throw new ResourceAuthError('invalid_token', { detail: 'azp differs from client_id' })
    }
    const actorChain = parseActorChain(claims)
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
