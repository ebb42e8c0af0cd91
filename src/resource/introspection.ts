/**
 * The resource kit's option to introspect (RFC 7662): a verifier that, after the local checks of
 * the JWT (signature, claims, caller policy), asks the authorization server whether the token is
 * still active — so a revoked grant, delegation or parent token is refused at once instead of at
 * the token's `exp`. The resource server authenticates with its own client credentials
 * (`client_secret_basic`).
 *
 * `active: false` is `invalid_token` 401; an introspection endpoint that cannot be reached or
 * answers garbage is `temporarily_unavailable` 503 — never a pass. The answer's `sub`, `client_id`
 * and `jti` must be the token's, so a confused endpoint cannot vouch for another token.
 *
 * @example
 * ```ts
 * const verifier = withIntrospection(createAccessTokenVerifier({ … }), {
 *   endpoint: 'https://idp.example/token/introspection',
 *   clientId: 'app-b',
 *   clientSecret,
 * })
 * ```
 */
import { ResourceAuthError } from './errors.js'
import type { AccessTokenVerifier, VerifiedAccessToken } from './verifier.js'

export interface IntrospectionOptions {
  readonly endpoint: string
  readonly clientId: string
  readonly clientSecret: string
  readonly fetch?: typeof fetch
  /** Default 3000. */
  readonly timeoutMs?: number
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they go into Basic. */
function basic(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1)
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`
}

function unavailable(detail: string, cause?: unknown): ResourceAuthError {
  return new ResourceAuthError('temporarily_unavailable', { detail, cause })
}

export function withIntrospection(
  verifier: AccessTokenVerifier,
  options: IntrospectionOptions,
): AccessTokenVerifier {
  if (typeof verifier !== 'function') throw new TypeError('"verifier" must be a verifier function')
  if (URL.parse(options.endpoint) === null) {
    throw new TypeError('"endpoint" must be an absolute URL')
  }
  if (!options.clientId || !options.clientSecret) {
    throw new TypeError('"clientId" and "clientSecret" are required')
  }
  const fetchImpl = options.fetch ?? globalThis.fetch
  const timeoutMs = options.timeoutMs ?? 3000
  const authorization = basic(options.clientId, options.clientSecret)

  async function introspecting(token: string): Promise<VerifiedAccessToken> {
    const verified = await verifier(token)
    let answer: Record<string, unknown>
    try {
      const response = await fetchImpl(options.endpoint, {
        method: 'POST',
        headers: {
          authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      })
      if (!response.ok) throw new Error(`introspection answered HTTP ${response.status}`)
      answer = (await response.json()) as Record<string, unknown>
    } catch (cause) {
      throw unavailable('introspection endpoint unavailable', cause)
    }
    if (typeof answer !== 'object' || answer === null || typeof answer.active !== 'boolean') {
      throw unavailable('introspection answer is not RFC 7662')
    }
    if (!answer.active) {
      throw new ResourceAuthError('invalid_token', { detail: 'introspection: token is not active' })
    }
    if (
      answer.sub !== verified.sub ||
      answer.client_id !== verified.clientId ||
      answer.jti !== verified.jti
    ) {
      throw unavailable('introspection answer describes another token')
    }
    return verified
  }
  return Object.assign(introspecting, { issuer: verifier.issuer, audience: verifier.audience })
}
