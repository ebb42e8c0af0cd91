/**
 * Per-issuer token profiles: how the engine reads access tokens of an issuer that does not follow
 * RFC 9068 to the letter (the STS trusts such upstream IdPs; the embedded IdP needs none).
 *
 * An issuer without a profile gets `DEFAULT_ISSUER_PROFILE`, which is exactly RFC 9068: `typ`
 * `at+jwt`, the claims `sub`, `client_id`, `jti` and `scope`, ID and logout token markers refused,
 * and client ids that mean the same thing on both sides. A profile can change only these readings;
 * every check still runs, in the same order (verify_access_token.ts, token_exchange/decide.ts).
 *
 * @example
 * ```ts
 * createExchangePolicy({ ...input, issuers: {
 *   'https://authentik.example/application/o/app-a/': {
 *     acceptedTypes: ['JWT'], claims: { clientId: 'azp', jti: 'uid' }, clients: { 'Xy7…': 'app-a' },
 *   },
 * } })
 * ```
 */
import { z } from 'zod'
import { SCOPE_TOKEN } from './syntax.js'

/** Claims that mark an ID token (OIDC Core §2, §3.1.3.6) or a logout token (OIDC Back-Channel §2.4). */
export const NOT_ACCESS_TOKEN_CLAIMS = ['events', 'nonce', 'at_hash', 'c_hash', 's_hash'] as const

const claimName = z.string().regex(/^[\x21-\x7E]{1,64}$/, 'must be a claim name')
const identifier = z.string().regex(/^[\x21-\x7E]+$/, 'must be visible ASCII without spaces')

export const issuerProfileSchema = z.object({
  /** `typ` header values accepted from this issuer (case-insensitive). RFC 9068 §2.1 by default. */
  acceptedTypes: z.array(z.string().min(1)).min(1).default(['at+jwt', 'application/at+jwt']),
  /** Which claim of this issuer's tokens carries each value the engine reads. */
  claims: z
    .object({
      sub: claimName.default('sub'),
      clientId: claimName.default('client_id'),
      jti: claimName.default('jti'),
      scope: claimName.default('scope'),
    })
    .default({ sub: 'sub', clientId: 'client_id', jti: 'jti', scope: 'scope' }),
  /** A token carrying any of these claims is not an access token (lesson S3). */
  notAccessTokenClaims: z.array(claimName).default([...NOT_ACCESS_TOKEN_CLAIMS]),
  /**
   * Scopes a token of this issuer stands for when it carries no scope claim at all (some IdPs put
   * none in access tokens). The client ceiling and the target still bound what is granted (S15).
   */
  scopesWhenAbsent: z
    .array(z.string().regex(SCOPE_TOKEN, 'must be an RFC 6749 scope-token'))
    .default([]),
  /**
   * Upstream client id → our client id, for "the subject token is addressed to the requester"
   * (S2). When set, only mapped ids count; when absent, ids are the same on both sides.
   */
  clients: z.record(z.string().min(1), identifier).optional(),
})

export type IssuerProfileInput = z.input<typeof issuerProfileSchema>

export interface IssuerProfile {
  readonly acceptedTypes: readonly string[]
  readonly claims: {
    readonly sub: string
    readonly clientId: string
    readonly jti: string
    readonly scope: string
  }
  readonly notAccessTokenClaims: readonly string[]
  readonly scopesWhenAbsent: readonly string[]
  readonly clients: ReadonlyMap<string, string> | undefined
}

export const DEFAULT_ISSUER_PROFILE: IssuerProfile = createIssuerProfile({})

/** Validated, frozen profile; a bad input throws a TypeError at start-up. */
export function createIssuerProfile(input: IssuerProfileInput): IssuerProfile {
  const data = issuerProfileSchema.parse(input)
  return Object.freeze({
    acceptedTypes: Object.freeze(data.acceptedTypes.map((typ) => typ.toLowerCase())),
    claims: Object.freeze({ ...data.claims }),
    notAccessTokenClaims: Object.freeze([...data.notAccessTokenClaims]),
    scopesWhenAbsent: Object.freeze([...new Set(data.scopesWhenAbsent)]),
    clients: data.clients === undefined ? undefined : new Map(Object.entries(data.clients)),
  })
}

/** The profile of `iss`, or RFC 9068's when the issuer has none (or `iss` is not a string). */
export function issuerProfileFor(
  issuers: ReadonlyMap<string, IssuerProfile> | undefined,
  iss: unknown,
): IssuerProfile {
  return (typeof iss === 'string' ? issuers?.get(iss) : undefined) ?? DEFAULT_ISSUER_PROFILE
}

/** The issuer's client ids that stand for our `clientId` (itself when the issuer maps none). */
export function upstreamClientIdsOf(profile: IssuerProfile, clientId: string): readonly string[] {
  if (profile.clients === undefined) return [clientId]
  const ids: string[] = []
  for (const [upstream, local] of profile.clients) if (local === clientId) ids.push(upstream)
  return ids
}
