/**
 * The client_credentials policy (RFC 6749 §4.4): which clients may obtain a token for their own
 * service account — the "M2M + header" workaround onbehalf shows — toward which audiences, with at
 * most which scopes, for how long. Off unless a client's `clientCredentials` block switches it on.
 *
 * @example
 * ```ts
 * const policy = createClientCredentialsPolicy(
 *   { 'app-a': { enabled: true, allowedAudiences: ['app-b'], scopes: ['todos:read'] } },
 *   exchangePolicy.targets,
 *   600,
 * )
 * ```
 */
import { z } from 'zod'
import type { TargetPolicy } from '../policy.js'
import { SCOPE_TOKEN } from '../syntax.js'

/** One client's `clientCredentials` block in config/policy.json. */
export const clientCredentialsPolicySchema = z.object({
  enabled: z.boolean().default(false),
  /** Audiences (configured targets) the client's service token may be for. */
  allowedAudiences: z.array(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/)).default([]),
  /** The most scope the service token carries; each must be a scope of an allowed audience. */
  scopes: z.array(z.string().regex(SCOPE_TOKEN, 'must be an RFC 6749 scope-token')).default([]),
})
export type ClientCredentialsPolicyInput = z.input<typeof clientCredentialsPolicySchema>

export interface ClientCredentialsClientPolicy {
  readonly clientId: string
  readonly enabled: boolean
  readonly allowedAudiences: readonly string[]
  readonly scopes: readonly string[]
}

export interface ClientCredentialsPolicy {
  /** Keyed by client_id; only clients with a block. */
  readonly clients: ReadonlyMap<string, ClientCredentialsClientPolicy>
  /** The engine's targets, keyed by audience. */
  readonly targets: ReadonlyMap<string, TargetPolicy>
  /** Lifetime of service tokens, seconds. */
  readonly lifetimeSeconds: number
}

/**
 * Validated and frozen; throws `TypeError` naming the field when an audience is not a configured
 * target or a scope is not one of an allowed audience's.
 */
export function createClientCredentialsPolicy(
  blocks: Readonly<Record<string, ClientCredentialsPolicyInput | undefined>>,
  targets: ReadonlyMap<string, TargetPolicy>,
  lifetimeSeconds: number,
): ClientCredentialsPolicy {
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds <= 0) {
    throw new TypeError('createClientCredentialsPolicy: lifetimeSeconds must be a positive integer')
  }
  const clients = new Map<string, ClientCredentialsClientPolicy>()
  for (const [clientId, input] of Object.entries(blocks)) {
    if (input === undefined) continue
    const block = clientCredentialsPolicySchema.parse(input)
    block.allowedAudiences.forEach((audience, index) => {
      if (!targets.has(audience)) {
        throw new TypeError(
          `clients.${clientId}.clientCredentials.allowedAudiences[${index}]: "${audience}" is not a configured target`,
        )
      }
    })
    const offered = block.allowedAudiences.flatMap((audience) => targets.get(audience)!.scopes)
    block.scopes.forEach((scope, index) => {
      if (!offered.includes(scope)) {
        throw new TypeError(
          `clients.${clientId}.clientCredentials.scopes[${index}]: "${scope}" is not a scope of an allowed audience`,
        )
      }
    })
    clients.set(
      clientId,
      Object.freeze({
        clientId,
        enabled: block.enabled,
        allowedAudiences: Object.freeze([...new Set(block.allowedAudiences)]),
        scopes: Object.freeze([...new Set(block.scopes)]),
      }),
    )
  }
  return Object.freeze({ clients, targets, lifetimeSeconds })
}
