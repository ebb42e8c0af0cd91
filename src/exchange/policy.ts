/**
 * The exchange engine's policy: who may exchange toward which target, with which scopes, for how
 * long (lessons S1, S15, S17). Zod schemas describe the JSON shapes so the config loader
 * (`src/config/`) can compose them; `createExchangePolicy` validates once, cross-checks references
 * and returns frozen data. Inconsistencies throw a `TypeError` naming the field, at start-up.
 *
 * @example
 * ```ts
 * const policy = createExchangePolicy({
 *   issuer: 'https://idp.example',
 *   trustedIssuers: ['https://idp.example'],
 *   targets: { 'app-b': { resourceUris: ['https://b.example'], scopes: ['todos:read'] } },
 *   clients: { 'app-a': { enabled: true, allowedAudiences: ['app-b'], scopeCeiling: ['todos:read'] } },
 * })
 * ```
 */
import { z } from 'zod'
import { createIssuerProfile, issuerProfileSchema, type IssuerProfile } from './issuer_profile.js'
import { MAX_ACT_NESTING } from '../jwt/act_claim.js'
import { isResourceUri, SCOPE_TOKEN } from './syntax.js'
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from './types.js'

/** delegation: the new token names the client in `act`; impersonation: only the user. */
export type ExchangeMode = 'delegation' | 'impersonation'

const identifier = z.string().regex(/^[\x21-\x7E]+$/, 'must be visible ASCII without spaces')
const scopeToken = z.string().regex(SCOPE_TOKEN, 'must be an RFC 6749 scope-token')
const resourceUri = z
  .string()
  .refine(isResourceUri, 'must be an absolute URI without query or fragment')

/** One target service, keyed by its audience (a client_id) in `targets`. */
export const targetPolicySchema = z.object({
  /** RFC 8707 resource URIs that also name this target. */
  resourceUris: z.array(resourceUri).default([]),
  /** Every scope this target understands: the target's share of the scope ceiling (S15). */
  scopes: z.array(scopeToken).default([]),
})

/** One client's `tokenExchange` block. */
export const clientExchangePolicySchema = z.object({
  /** Off unless switched on: a client may exchange only when its policy says so. */
  enabled: z.boolean().default(false),
  /** Targets this client may obtain tokens for (S1); each must be a configured target. */
  allowedAudiences: z.array(identifier).default([]),
  /** The most scope this client may ever obtain by exchange (S15). */
  scopeCeiling: z.array(scopeToken).default([]),
  /** delegation: the new token names the client in `act`; impersonation: only the user. */
  mode: z.enum(['delegation', 'impersonation']).default('delegation'),
  /** Cap for tokens issued to this client; the engine-wide cap also applies. */
  maxLifetimeSeconds: z.number().int().positive().optional(),
  /** Other `sub` values under which this client's actor tokens may appear (S8). */
  serviceIdentities: z.array(identifier).default([]),
  /**
   * An agent that acts only on a user's delegation: every subject token it exchanges must carry
   * `may_act` naming it (RFC 8693 §4.4), and its actor token must be its own. Without a delegation
   * there is nothing to act on, whatever else the request says.
   */
  requireMayAct: z.boolean().default(false),
  /** Sender-constrained exchange (RFC 9449). */
  dpop: z
    .object({
      /** Every exchange of this client must carry a DPoP proof (its tokens are always bound). */
      required: z.boolean().default(false),
      /**
       * Clients whose DPoP-bound tokens this client may exchange, proving possession of their key
       * (a bound token issued to another client: the case Keycloak refuses). Its own are implied.
       */
      boundSubjectsFrom: z.array(identifier).default([]),
      /**
       * RFC 9449 §8: this client's proofs must carry a nonce the token endpoint handed out; one
       * without it is answered 400 `use_dpop_nonce` with a fresh nonce in `DPoP-Nonce`.
       */
      nonce: z.boolean().default(false),
    })
    .default({ required: false, boundSubjectsFrom: [], nonce: false }),
})

export const requestLimitsSchema = z.object({
  maxTokenLength: z.number().int().positive().default(DEFAULT_REQUEST_LIMITS.maxTokenLength),
  maxParameterLength: z
    .number()
    .int()
    .positive()
    .default(DEFAULT_REQUEST_LIMITS.maxParameterLength),
  maxAudiences: z.number().int().positive().default(DEFAULT_REQUEST_LIMITS.maxAudiences),
  maxScopes: z.number().int().positive().default(DEFAULT_REQUEST_LIMITS.maxScopes),
})

/** Engine-wide settings; every field has a default, so `{}` is valid. */
export const exchangeSettingsSchema = z.object({
  /** Longest lifetime of any exchanged token (S17: also never beyond the subject's `exp`). */
  maxLifetimeSeconds: z.number().int().positive().default(300),
  /** Tolerance for `exp`, `nbf` and `iat` of subject and actor tokens. */
  clockSkewSeconds: z.number().int().min(0).max(300).default(30),
  /**
   * Most nested `act` levels in an issued token (S14). At most `MAX_ACT_NESTING`, the cap every
   * reader of `act` applies (src/jwt/act_claim.ts), so every issued token stays readable.
   */
  maxChainDepth: z.number().int().min(1).max(MAX_ACT_NESTING).default(4),
  limits: requestLimitsSchema.default(requestLimitsSchema.parse({})),
})

export const exchangePolicyInputSchema = exchangeSettingsSchema.extend({
  /** Our own issuer: `iss` of minted tokens and of the requester in `act`. */
  issuer: z.string().min(1),
  /** Issuers whose subject and actor tokens are accepted. */
  trustedIssuers: z.array(z.string().min(1)).min(1),
  targets: z.record(identifier, targetPolicySchema),
  clients: z.record(identifier, clientExchangePolicySchema),
  /** How to read tokens of trusted issuers that differ from RFC 9068 (keys: issuers). */
  issuers: z.record(z.string().min(1), issuerProfileSchema).default({}),
})

export type TargetPolicyInput = z.input<typeof targetPolicySchema>
export type ClientExchangePolicyInput = z.input<typeof clientExchangePolicySchema>
export type ExchangePolicyInput = z.input<typeof exchangePolicyInputSchema>

export interface TargetPolicy {
  readonly audience: string
  readonly resourceUris: readonly string[]
  readonly scopes: readonly string[]
}

export interface ClientExchangePolicy {
  readonly clientId: string
  readonly enabled: boolean
  readonly allowedAudiences: readonly string[]
  readonly scopeCeiling: readonly string[]
  readonly mode: ExchangeMode
  /** Filled with the engine-wide cap when the client sets none. */
  readonly maxLifetimeSeconds: number
  readonly serviceIdentities: readonly string[]
  readonly requireMayAct: boolean
  readonly dpop: {
    readonly required: boolean
    readonly boundSubjectsFrom: readonly string[]
    readonly nonce: boolean
  }
}

export interface ExchangePolicy {
  readonly issuer: string
  readonly trustedIssuers: readonly string[]
  readonly maxLifetimeSeconds: number
  readonly clockSkewSeconds: number
  readonly maxChainDepth: number
  readonly limits: RequestLimits
  /** Keyed by audience. */
  readonly targets: ReadonlyMap<string, TargetPolicy>
  /** Keyed by client_id. */
  readonly clients: ReadonlyMap<string, ClientExchangePolicy>
  /** Token profiles keyed by issuer; an issuer without one is read as RFC 9068 says. */
  readonly issuers: ReadonlyMap<string, IssuerProfile>
}

export function createExchangePolicy(input: ExchangePolicyInput): ExchangePolicy {
  const result = exchangePolicyInputSchema.safeParse(input)
  if (!result.success) {
    const issue = result.error.issues[0]!
    throw new TypeError(`exchange policy: ${formatPath(issue.path)}: ${issue.message}`)
  }
  const data = result.data

  const targets = new Map<string, TargetPolicy>()
  const resourceOwner = new Map<string, string>()
  for (const [audience, target] of Object.entries(data.targets)) {
    for (const [index, uri] of target.resourceUris.entries()) {
      const owner = resourceOwner.get(uri)
      if (owner !== undefined && owner !== audience) {
        throw new TypeError(
          `exchange policy: targets.${audience}.resourceUris[${index}]: ${uri} already names target ${owner}`,
        )
      }
      resourceOwner.set(uri, audience)
    }
    targets.set(
      audience,
      Object.freeze({
        audience,
        resourceUris: Object.freeze([...new Set(target.resourceUris)]),
        scopes: Object.freeze([...new Set(target.scopes)]),
      }),
    )
  }

  const clients = new Map<string, ClientExchangePolicy>()
  for (const [clientId, client] of Object.entries(data.clients)) {
    for (const [index, audience] of client.allowedAudiences.entries()) {
      if (!targets.has(audience)) {
        throw new TypeError(
          `exchange policy: clients.${clientId}.allowedAudiences[${index}]: "${audience}" is not a configured target`,
        )
      }
    }
    clients.set(
      clientId,
      Object.freeze({
        clientId,
        enabled: client.enabled,
        allowedAudiences: Object.freeze([...new Set(client.allowedAudiences)]),
        scopeCeiling: Object.freeze([...new Set(client.scopeCeiling)]),
        mode: client.mode,
        maxLifetimeSeconds: Math.min(
          client.maxLifetimeSeconds ?? data.maxLifetimeSeconds,
          data.maxLifetimeSeconds,
        ),
        serviceIdentities: Object.freeze([...new Set(client.serviceIdentities)]),
        requireMayAct: client.requireMayAct,
        dpop: Object.freeze({
          required: client.dpop.required,
          boundSubjectsFrom: Object.freeze([...new Set(client.dpop.boundSubjectsFrom)]),
          nonce: client.dpop.nonce,
        }),
      }),
    )
  }

  const issuers = new Map<string, IssuerProfile>()
  for (const [iss, profile] of Object.entries(data.issuers)) {
    if (!data.trustedIssuers.includes(iss)) {
      throw new TypeError(`exchange policy: issuers.${iss}: not one of trustedIssuers`)
    }
    issuers.set(iss, createIssuerProfile(profile))
  }

  return Object.freeze({
    issuer: data.issuer,
    trustedIssuers: Object.freeze([...new Set(data.trustedIssuers)]),
    maxLifetimeSeconds: data.maxLifetimeSeconds,
    clockSkewSeconds: data.clockSkewSeconds,
    maxChainDepth: data.maxChainDepth,
    limits: Object.freeze({ ...data.limits }),
    targets: freezeMap(targets),
    clients: freezeMap(clients),
    issuers: freezeMap(issuers),
  })
}

/** A read-only view: the Map itself is not reachable, so nothing can `set` on it later. */
function freezeMap<K, V>(map: Map<K, V>): ReadonlyMap<K, V> {
  const view: ReadonlyMap<K, V> = {
    get: (key) => map.get(key),
    has: (key) => map.has(key),
    get size() {
      return map.size
    },
    forEach: (callback, thisArg) =>
      map.forEach((value, key) => callback.call(thisArg, value, key, view)),
    keys: () => map.keys(),
    values: () => map.values(),
    entries: () => map.entries(),
    [Symbol.iterator]: () => map[Symbol.iterator](),
  }
  return Object.freeze(view)
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) =>
      typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key),
    '',
  )
}
