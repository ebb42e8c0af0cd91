/**
 * The JWT federation policy: per client (the re-issued token's target), whether it re-issues other
 * clients' user tokens, whose, under which subject and within which scope. Read from each client's
 * `federation` block in config/policy.json; off unless the block switches it on.
 *
 * @example
 * ```ts
 * const policy = createFederationPolicy(
 *   { 'app-a': undefined, 'app-b': { enabled: true, trustedClients: ['app-a'] } },
 *   { 'app-b': ['todos:read'] },
 * )
 * ```
 */
import { z } from 'zod'
import { SCOPE_TOKEN } from '../syntax.js'

/** One client's `federation` block in config/policy.json (the client is the token's target). */
export const clientFederationPolicySchema = z.object({
  /** Off unless switched on. */
  enabled: z.boolean().default(false),
  /** Clients whose users' access tokens this client re-issues (authentik: "Federated OIDC Providers"). */
  trustedClients: z.array(z.string().min(1)).default([]),
  /**
   * `user`: the new token's `sub` is the assertion's user (authentik's provider route).
   * `service-account`: `sub` = `<trusted client>-<user sub>`, a generated account (its source route).
   */
  subject: z.enum(['user', 'service-account']).default('user'),
  /** Most scope the re-issued token may carry; default: every scope of the client's target. */
  scopes: z.array(z.string().regex(SCOPE_TOKEN, 'must be an RFC 6749 scope-token')).optional(),
})
export type ClientFederationPolicyInput = z.input<typeof clientFederationPolicySchema>

export interface ClientFederationPolicy {
  readonly clientId: string
  readonly enabled: boolean
  readonly trustedClients: readonly string[]
  readonly subject: 'user' | 'service-account'
  /** Ceiling for the re-issued token's scope. */
  readonly scopes: readonly string[]
}

/** Keyed by client_id; every configured client has an entry (off unless its block says so). */
export type FederationPolicy = ReadonlyMap<string, ClientFederationPolicy>

/**
 * Builds the frozen policy. `clients` lists every configured client with its optional block;
 * `targetScopes` gives each client's own target scopes (the default ceiling). Throws `TypeError`
 * naming the field when a trusted client or a scope is not configured.
 */
export function createFederationPolicy(
  clients: Readonly<Record<string, ClientFederationPolicyInput | undefined>>,
  targetScopes: Readonly<Record<string, readonly string[] | undefined>>,
): FederationPolicy {
  const policies = new Map<string, ClientFederationPolicy>()
  for (const [clientId, input] of Object.entries(clients)) {
    const block = clientFederationPolicySchema.parse(input ?? {})
    const ownScopes = targetScopes[clientId] ?? []
    block.trustedClients.forEach((trusted, index) => {
      if (!(trusted in clients)) {
        throw new TypeError(
          `clients.${clientId}.federation.trustedClients[${index}]: "${trusted}" is not a configured client`,
        )
      }
    })
    block.scopes?.forEach((scope, index) => {
      if (!ownScopes.includes(scope)) {
        throw new TypeError(
          `clients.${clientId}.federation.scopes[${index}]: "${scope}" is not a scope of target ${clientId}`,
        )
      }
    })
    if (block.enabled && ownScopes.length === 0 && block.scopes === undefined) {
      throw new TypeError(`clients.${clientId}.federation: ${clientId} is not a configured target`)
    }
    policies.set(
      clientId,
      Object.freeze({
        clientId,
        enabled: block.enabled,
        trustedClients: Object.freeze([...block.trustedClients]),
        subject: block.subject,
        scopes: Object.freeze([...(block.scopes ?? ownScopes)]),
      }),
    )
  }
  return policies
}
