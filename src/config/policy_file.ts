/**
 * The IdP policy file (config/policy.json): clients, their secrets by environment reference, login
 * audiences, and each client's token exchange policy. Validated once at start-up; any problem stops
 * start-up with a message naming the field (e.g. `clients.app-a.tokenExchange.allowedAudiences[0]`).
 *
 * `${NAME}` inside a string is replaced by the configuration value NAME (from the validated Env).
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import {
  clientExchangePolicySchema,
  createExchangePolicy,
  exchangeSettingsSchema,
  targetPolicySchema,
  type ExchangePolicy,
} from '../exchange/policy.js'
import {
  clientFederationPolicySchema,
  createFederationPolicy,
  type FederationPolicy,
} from '../exchange/jwt_federation/policy.js'
import {
  clientCredentialsPolicySchema,
  createClientCredentialsPolicy,
  type ClientCredentialsPolicy,
} from '../exchange/client_credentials/policy.js'
import { ConfigError, configVariables, type Env } from './env.js'
import { formatPath, interpolate } from './interpolate.js'

const clientIdPattern = /^[A-Za-z0-9._-]{1,64}$/

const clientSchema = z.object({
  name: z.string().min(1),
  secretEnv: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]*$/, 'must name an environment variable, e.g. APP_A_CLIENT_SECRET'),
  firstParty: z.boolean().default(false),
  /** Empty for a client that never uses the authorization endpoint (an agent on the device flow). */
  redirectUris: z.array(z.string().url()).default([]),
  postLogoutRedirectUris: z.array(z.string().url()).default([]),
  /**
   * OpenID Connect Back-Channel Logout 1.0: where the IdP posts a logout token when the user's IdP
   * session ends, so the app ends its own sessions for that `sid` too.
   */
  backchannelLogoutUri: z.string().url().optional(),
  /** The target whose audience this client's login access tokens carry. */
  loginAudience: z.string().regex(clientIdPattern),
  tokenExchange: clientExchangePolicySchema,
  /**
   * OAuth 2.0 client credentials (RFC 6749 §4.4) for the client's own service account: the
   * "M2M + header" workaround. Off unless switched on (src/exchange/client_credentials/policy.ts).
   */
  clientCredentials: clientCredentialsPolicySchema.optional(),
  /** authentik-style JWT federation: this client re-issues tokens of the clients it trusts. */
  federation: clientFederationPolicySchema.optional(),
  /**
   * An agent the user can delegate to: it signs the user in with the Device Authorization Grant
   * (RFC 8628), the IdP asks the user's consent ("<name> may act for you at <audience>: <scopes>,
   * until <date>") and stores the delegation; the user's tokens issued to it carry
   * `may_act: { sub: <client_id> }` (src/idp/delegations.ts).
   */
  delegation: z
    .object({
      /** The service the agent acts at for the user (a configured target). */
      audience: z.string().regex(clientIdPattern),
      /** What the user delegates (each a scope of that target). */
      scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/)).min(1),
      /** How long a delegation lasts before the user must consent again (default 7 days). */
      lifetimeSeconds: z
        .number()
        .int()
        .min(1)
        .max(90 * 86_400)
        .default(7 * 86_400),
    })
    .optional(),
})

const policyFileSchema = z.object({
  $comment: z.string().optional(),
  accessTokenLifetimeSeconds: z.number().int().min(30).max(86_400).default(600),
  exchange: exchangeSettingsSchema.default(exchangeSettingsSchema.parse({})),
  targets: z.record(z.string().regex(clientIdPattern), targetPolicySchema),
  clients: z.record(z.string().regex(clientIdPattern), clientSchema),
})

export type IdpClientConfig = z.infer<typeof clientSchema> & {
  clientId: string
  clientSecret: string
}

export interface IdpPolicy {
  readonly accessTokenLifetimeSeconds: number
  readonly clients: ReadonlyMap<string, Readonly<IdpClientConfig>>
  readonly exchange: ExchangePolicy
  /** Every client's JWT federation policy (off unless its `federation` block enables it). */
  readonly federation: FederationPolicy
  /** The clients with a `clientCredentials` block, and the service tokens they may get. */
  readonly clientCredentials: ClientCredentialsPolicy
}

/** Builds the policy from already-parsed JSON (the file's content), resolving secrets from `env`. */
export function parsePolicy(raw: unknown, env: Env, issuer: string, source = 'policy'): IdpPolicy {
  const problems: string[] = []
  const interpolated = interpolate(raw, configVariables(env, {}), (path, message) =>
    problems.push(`${path}: ${message}`),
  )
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `${source}: ${p}`))
  const result = policyFileSchema.safeParse(interpolated)
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${source}: ${formatPath(issue.path)}: ${issue.message}`),
    )
  }
  const file = result.data
  const clients = new Map<string, IdpClientConfig>()
  for (const [clientId, client] of Object.entries(file.clients)) {
    const clientSecret = (env as unknown as Record<string, unknown>)[client.secretEnv]
    if (typeof clientSecret !== 'string' || clientSecret.length < 32) {
      problems.push(
        `${source}: clients.${clientId}.secretEnv: ${client.secretEnv} is not set to a secret of at least 32 characters`,
      )
      continue
    }
    if (!file.targets[client.loginAudience]) {
      problems.push(
        `${source}: clients.${clientId}.loginAudience: "${client.loginAudience}" is not a configured target`,
      )
    }
    if (client.delegation) {
      const target = file.targets[client.delegation.audience]
      if (!target) {
        problems.push(
          `${source}: clients.${clientId}.delegation.audience: "${client.delegation.audience}" is not a configured target`,
        )
      } else {
        for (const [index, scope] of client.delegation.scopes.entries()) {
          if (!(target.scopes ?? []).includes(scope)) {
            problems.push(
              `${source}: clients.${clientId}.delegation.scopes[${index}]: "${scope}" is not a scope of ${client.delegation.audience}`,
            )
          }
        }
      }
      if (client.firstParty) {
        problems.push(
          `${source}: clients.${clientId}.delegation: a first-party client gets no consent screen, so it cannot be delegated to`,
        )
      }
    } else if (client.redirectUris.length === 0) {
      problems.push(`${source}: clients.${clientId}.redirectUris: must list at least one URI`)
    }
    clients.set(clientId, Object.freeze({ ...client, clientId, clientSecret }))
  }
  if (problems.length > 0) throw new ConfigError(problems)

  let exchange: ExchangePolicy
  let federation: FederationPolicy
  let clientCredentials: ClientCredentialsPolicy
  try {
    exchange = createExchangePolicy({
      issuer,
      trustedIssuers: [issuer],
      ...file.exchange,
      targets: file.targets,
      clients: Object.fromEntries(
        Object.entries(file.clients).map(([id, client]) => [id, client.tokenExchange]),
      ),
    })
    federation = createFederationPolicy(
      Object.fromEntries(
        Object.entries(file.clients).map(([id, client]) => [id, client.federation]),
      ),
      Object.fromEntries(Object.entries(file.targets).map(([id, target]) => [id, target.scopes])),
    )
    clientCredentials = createClientCredentialsPolicy(
      Object.fromEntries(
        Object.entries(file.clients).map(([id, client]) => [id, client.clientCredentials]),
      ),
      exchange.targets,
      file.accessTokenLifetimeSeconds,
    )
  } catch (error) {
    throw new ConfigError([`${source}: ${(error as Error).message}`])
  }
  return Object.freeze({
    accessTokenLifetimeSeconds: file.accessTokenLifetimeSeconds,
    clients,
    exchange,
    federation,
    clientCredentials,
  })
}

export function loadPolicyFile(file: string, env: Env, issuer: string): IdpPolicy {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (cause) {
    throw new ConfigError([`${file}: cannot be read as JSON (${(cause as Error).message})`])
  }
  return parsePolicy(raw, env, issuer, file)
}
