/**
 * The STS configuration file (`onbehalf sts --config <file>`; examples in deploy/sts/), validated
 * once at start-up with one zod schema. Every problem is reported at once and names its field
 * (`upstreams.authentik.keyCache.cooldownSeconds: …`). The result is frozen.
 *
 * - `${NAME}` (or `${NAME:-default}`) in any string or object key is replaced by the variable NAME
 *   (environment, with the development defaults of `loadEnv` when the CLI loads it).
 * - Client secrets are never written in the file: `secretEnv` names the variable that holds one.
 * - The exchange policy (targets, clients, lifetimes) uses the engine's own schemas, so the STS and
 *   the embedded IdP read policy the same way; each upstream's token profile is the engine's
 *   `issuerProfileSchema` plus where its keys come from.
 * - `introspection` (RFC 7662): on by default for the clients that are also targets; `enabled`
 *   and `resourceServers` narrow it.
 * - `txnTokens` (optional) switches on the Txn-Token Service mode (draft-ietf-oauth-transaction-
 *   tokens-10, docs/txn-tokens.md); a client's `txnToken` block makes it a workload of it.
 *
 * @example
 * ```ts
 * const config = readStsConfigFile('deploy/sts/embedded.json', process.env)
 * const app = await buildSts(config, { logger })
 * ```
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { ConfigError } from '../config/env.js'
import { formatPath, interpolate, type ConfigVariables } from '../config/interpolate.js'

export type { ConfigVariables }
import { issuerProfileSchema } from '../exchange/issuer_profile.js'
import {
  clientExchangePolicySchema,
  createExchangePolicy,
  exchangeSettingsSchema,
  targetPolicySchema,
  type ExchangePolicy,
} from '../exchange/policy.js'
import {
  createTxnTokenPolicy,
  txnTokenSettingsSchema,
  txnWorkloadPolicySchema,
  type TxnTokenPolicy,
} from '../exchange/txn_token/policy.js'
import { ALGORITHMS } from '../jws/algorithms.js'
import {
  DEFAULT_KEY_CACHE,
  MAX_COOLDOWN_SECONDS,
  type KeyCacheSettings,
} from '../keys/remote_jwks.js'

export const DEFAULT_STS_PORT = 9100

const identifier = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 . _ -')
const httpUrl = z
  .string()
  .url()
  .refine((value) => /^https?:\/\//.test(value), 'must be an http(s) URL')
const algorithm = z
  .string()
  .refine((value) => Object.hasOwn(ALGORITHMS, value), 'is not a supported JWS algorithm')

const keyCacheSchema = z.object({
  /** Keys are fresh this long after a fetch. */
  maxAgeSeconds: z.number().int().min(1).max(86_400).default(DEFAULT_KEY_CACHE.maxAgeSeconds),
  /**
   * Least time between two fetches per issuer. A token with an unknown `kid` waits for the next
   * fetch (at most this long) instead of being refused, so keep it short.
   */
  cooldownSeconds: z
    .number()
    .min(0)
    .max(MAX_COOLDOWN_SECONDS)
    .default(DEFAULT_KEY_CACHE.cooldownSeconds),
  /** How long cached keys keep serving past freshness while the upstream is unreachable. */
  staleIfErrorSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .default(DEFAULT_KEY_CACHE.staleIfErrorSeconds),
  timeoutMs: z.number().int().min(100).max(60_000).default(DEFAULT_KEY_CACHE.timeoutMs),
})

const upstreamSchema = issuerProfileSchema.extend({
  /** Exactly the `iss` of its tokens (authentik's ends with "/"). */
  issuer: httpUrl,
  /** Set to skip discovery (`<issuer>/.well-known/openid-configuration`). */
  jwksUri: httpUrl.optional(),
  /** JWS algorithms accepted from this issuer; never HS* or none. */
  algorithms: z.array(algorithm).min(1).default(['RS256', 'ES256']),
  keyCache: keyCacheSchema.default(keyCacheSchema.parse({})),
})

const clientSchema = z.object({
  secretEnv: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]*$/, 'must name an environment variable, e.g. APP_A_CLIENT_SECRET'),
  /** Off when absent: a workload that only requests txn tokens needs no exchange policy. */
  tokenExchange: clientExchangePolicySchema.default(clientExchangePolicySchema.parse({})),
  /** The client as a workload of the Txn-Token Service (needs the `txnTokens` section). */
  txnToken: txnWorkloadPolicySchema.optional(),
})

/**
 * RFC 7662 introspection of the tokens the STS issued (`POST /token/introspection`). Only resource
 * servers ask: a client that is also a target, and only about tokens addressed to it.
 */
const introspectionSchema = z.object({
  /** Off: the route answers 404 and discovery does not advertise it. */
  enabled: z.boolean().default(true),
  /**
   * Which resource servers may introspect; each must be both a client (it authenticates) and a
   * target (tokens are addressed to it). Default: every client that is also a target.
   */
  resourceServers: z.array(identifier).optional(),
})

const stsConfigSchema = z.object({
  $comment: z.string().optional(),
  /** The STS's own issuer: `iss` of every token it mints, base of its endpoints. */
  issuer: httpUrl.transform((value) => value.replace(/\/+$/, '')),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(DEFAULT_STS_PORT),
  /** Largest accepted token request body, in bytes. */
  bodyLimitBytes: z
    .number()
    .int()
    .min(1024)
    .max(1_048_576)
    .default(64 * 1024),
  /**
   * Token requests per minute per client IP (429 + Retry-After beyond); 0 switches the limit off
   * (load tests). Several instances count separately: put a shared limit in front of them.
   */
  tokenRequestsPerMinutePerIp: z.number().int().min(0).max(10_000_000).default(600),
  keys: z.object({
    /** Shared by every instance of this STS (see deploy/sts/README.md). */
    directory: z.string().min(1),
    /** How long a retired signing key stays in the JWKS; at least exchange.maxLifetimeSeconds. */
    publishRetiredForSeconds: z
      .number()
      .int()
      .min(60)
      .default(2 * 3600),
  }),
  upstreams: z
    .record(identifier, upstreamSchema)
    .refine((upstreams) => Object.keys(upstreams).length > 0, 'at least one upstream is required'),
  exchange: exchangeSettingsSchema.default(exchangeSettingsSchema.parse({})),
  /**
   * The Txn-Token Service mode (draft-ietf-oauth-transaction-tokens-10): absent, the STS issues
   * no txn tokens. Its workloads are the clients with a `txnToken` block.
   */
  txnTokens: txnTokenSettingsSchema.optional(),
  introspection: introspectionSchema.default(introspectionSchema.parse({})),
  targets: z.record(identifier, targetPolicySchema),
  clients: z.record(identifier, clientSchema),
})

export interface UpstreamConfig {
  readonly name: string
  readonly issuer: string
  readonly jwksUri: string | undefined
  readonly algorithms: readonly string[]
  readonly keyCache: KeyCacheSettings
}

export interface StsConfig {
  readonly issuer: string
  readonly host: string
  readonly port: number
  readonly bodyLimitBytes: number
  readonly tokenRequestsPerMinutePerIp: number
  readonly keys: { readonly directory: string; readonly publishRetiredForSeconds: number }
  readonly upstreams: readonly UpstreamConfig[]
  /** Trusted issuers, their token profiles, targets and client policies, for the engine. */
  readonly policy: ExchangePolicy
  /** client_id → secret, resolved from `secretEnv`. */
  readonly clientSecrets: ReadonlyMap<string, string>
  /** The Txn-Token Service policy; `undefined` when the `txnTokens` section is absent. */
  readonly txnTokens: TxnTokenPolicy | undefined
  /** RFC 7662 introspection: on or off, and the resource servers that may ask (resolved). */
  readonly introspection: {
    readonly enabled: boolean
    readonly resourceServers: readonly string[]
  }
}

/** Builds the configuration from parsed JSON; `source` prefixes every problem (the file name). */
export function parseStsConfig(
  raw: unknown,
  vars: ConfigVariables,
  source = 'sts config',
): StsConfig {
  const problems: string[] = []
  const report = (path: string, message: string) => problems.push(`${source}: ${path}: ${message}`)
  const interpolated = interpolate(raw, vars, report)
  if (problems.length > 0) throw new ConfigError(problems)

  const result = stsConfigSchema.safeParse(interpolated)
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${source}: ${formatPath(issue.path)}: ${issue.message}`),
    )
  }
  const file = result.data

  const issuers = new Map<string, string>()
  for (const [name, upstream] of Object.entries(file.upstreams)) {
    const other = issuers.get(upstream.issuer)
    if (other !== undefined) report(`upstreams.${name}.issuer`, `same issuer as upstreams.${other}`)
    issuers.set(upstream.issuer, name)
    if (upstream.issuer.replace(/\/+$/, '') === file.issuer) {
      report(`upstreams.${name}.issuer`, 'is the STS itself')
    }
    for (const [upstreamId, clientId] of Object.entries(upstream.clients ?? {})) {
      if (file.clients[clientId] === undefined) {
        report(
          `upstreams.${name}.clients.${upstreamId}`,
          `"${clientId}" is not a configured client`,
        )
      }
    }
  }
  if (file.keys.publishRetiredForSeconds < file.exchange.maxLifetimeSeconds) {
    report('keys.publishRetiredForSeconds', 'must be at least exchange.maxLifetimeSeconds')
  }
  if (file.txnTokens !== undefined) {
    // Draft §11.3: `sub` MUST be unique within the trust domain; with one upstream it is.
    if (Object.keys(file.upstreams).length !== 1) {
      report('txnTokens', 'needs exactly one upstream, so that sub is unique in the trust domain')
    }
    if (file.keys.publishRetiredForSeconds < file.txnTokens.lifetimeSeconds) {
      report('keys.publishRetiredForSeconds', 'must be at least txnTokens.lifetimeSeconds')
    }
  }
  for (const [clientId, client] of Object.entries(file.clients)) {
    if (client.txnToken !== undefined && file.txnTokens === undefined) {
      report(`clients.${clientId}.txnToken`, 'needs the txnTokens section (the trust domain)')
    }
  }
  const resourceServers =
    file.introspection.resourceServers ??
    Object.keys(file.clients).filter((id) => Object.hasOwn(file.targets, id))
  file.introspection.resourceServers?.forEach((id, index) => {
    if (file.clients[id] === undefined || !Object.hasOwn(file.targets, id)) {
      report(
        `introspection.resourceServers.${index}`,
        `"${id}" must be both a configured client and a configured target`,
      )
    }
  })
  const clientSecrets = new Map<string, string>()
  for (const [clientId, client] of Object.entries(file.clients)) {
    const secret = vars[client.secretEnv]
    if (typeof secret !== 'string' || secret.length < 32) {
      report(
        `clients.${clientId}.secretEnv`,
        `${client.secretEnv} is not set to a secret of at least 32 characters`,
      )
    } else {
      clientSecrets.set(clientId, secret)
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)

  let policy: ExchangePolicy
  try {
    policy = createExchangePolicy({
      issuer: file.issuer,
      trustedIssuers: Object.values(file.upstreams).map((upstream) => upstream.issuer),
      ...file.exchange,
      targets: file.targets,
      clients: Object.fromEntries(
        Object.entries(file.clients).map(([id, client]) => [id, client.tokenExchange]),
      ),
      issuers: Object.fromEntries(
        Object.values(file.upstreams).map(
          ({
            issuer,
            jwksUri: _jwksUri,
            algorithms: _algorithms,
            keyCache: _keyCache,
            ...profile
          }) => [issuer, profile],
        ),
      ),
    })
  } catch (error) {
    throw new ConfigError([`${source}: ${(error as Error).message}`])
  }

  const txnTokens =
    file.txnTokens === undefined
      ? undefined
      : createTxnTokenPolicy({
          issuer: file.issuer,
          ...file.txnTokens,
          limits: policy.limits,
          workloads: Object.fromEntries(
            Object.entries(file.clients).map(([id, client]) => [id, client.txnToken]),
          ),
        })

  return deepFreeze({
    issuer: file.issuer,
    host: file.host,
    port: file.port,
    bodyLimitBytes: file.bodyLimitBytes,
    tokenRequestsPerMinutePerIp: file.tokenRequestsPerMinutePerIp,
    keys: { ...file.keys },
    upstreams: Object.entries(file.upstreams).map(([name, upstream]) => ({
      name,
      issuer: upstream.issuer,
      jwksUri: upstream.jwksUri,
      algorithms: [...upstream.algorithms],
      keyCache: { ...upstream.keyCache },
    })),
    policy,
    clientSecrets,
    txnTokens,
    introspection: { enabled: file.introspection.enabled, resourceServers: [...resourceServers] },
  })
}

export function readStsConfigFile(file: string, vars: ConfigVariables): StsConfig {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (cause) {
    throw new ConfigError([`${file}: cannot be read as JSON (${(cause as Error).message})`])
  }
  return parseStsConfig(raw, vars, file)
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    if (!(value instanceof Map)) for (const item of Object.values(value)) deepFreeze(item)
    Object.freeze(value)
  }
  return value
}
