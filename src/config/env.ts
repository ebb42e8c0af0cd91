/**
 * System configuration from the environment (and `.env`), validated once at start-up.
 *
 * Every variable is documented in `.env.example`. `loadEnv()` reports every problem at once, each
 * naming the variable, and returns a frozen object: later code receives `config`, never reads
 * `process.env` itself.
 */
import { existsSync } from 'node:fs'
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import { z } from 'zod'
import { loadIdpSettings } from './idp_settings.js'
import type { IdpSettings } from '../idp_profiles/profiles.js'
import { ConfigError } from './config_error.js'
import type { MetricsSettings } from '../metrics/metrics.js'
import { packageFile } from './package_files.js'

/** Development-only secrets: accepted outside production, with a warning, so `npm start` works on a fresh clone. */
export const DEVELOPMENT_SECRETS = Object.freeze({
  APP_A_CLIENT_SECRET: 'dev-app-a-secret-change-me-0123456789',
  APP_B_CLIENT_SECRET: 'dev-app-b-secret-change-me-0123456789',
  APP_A_SESSION_SECRET: 'dev-app-a-session-secret-change-me-0123456789',
  APP_B_SESSION_SECRET: 'dev-app-b-session-secret-change-me-0123456789',
  IDP_COOKIE_SECRET: 'dev-idp-cookie-secret-change-me-0123456789',
  APP_D_CLIENT_SECRET: 'dev-app-d-secret-change-me-0123456789',
})

const port = z.coerce.number().int().min(0).max(65535)
const httpUrl = z
  .string()
  .url()
  .refine((value) => /^https?:\/\//.test(value), 'must be an http(s) URL')
  .transform((value) => value.replace(/\/+$/, ''))
const secret = z.string().min(32, 'must be at least 32 characters')
/** A comma-separated list of client ids, e.g. `app-a,app-b`. */
const clientIdList = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$/, 'must be a comma-separated list of client ids')
    .default(fallback)
    .transform((value) => Object.freeze(value.split(',')))

/** An IPv4/IPv6 address, optionally with a /prefix: a trusted proxy. */
function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, extra] = entry.split('/')
  if (extra !== undefined || address === undefined) return false
  const family = isIP(address)
  if (family === 0) return false
  if (prefix === undefined) return true
  if (!/^\d{1,3}$/.test(prefix)) return false
  return Number(prefix) <= (family === 4 ? 32 : 128)
}

/** `off`, a hop count 1-10, or trusted proxy addresses (Fastify's `trustProxy`). */
const trustProxy = z
  .string()
  .refine(
    (value) =>
      value === 'off' ||
      /^([1-9]|10)$/.test(value) ||
      value.split(',').every((entry) => isAddressOrCidr(entry.trim())),
    'must be `off`, a number of proxy hops from 1 to 10, or comma-separated proxy IP addresses or CIDR ranges',
  )
  .transform((value): TrustProxy => {
    if (value === 'off') return false
    if (/^\d+$/.test(value)) return Number(value)
    return Object.freeze(value.split(',').map((entry) => entry.trim()))
  })

/** TRUST_PROXY validated: false, a hop count, or trusted proxy addresses. */
export type TrustProxy = false | number | readonly string[]

/** TRUST_PROXY as Fastify's `trustProxy` option (a hop count as proxy-addr's hop function). */
export function trustProxyOption(
  value: TrustProxy,
): false | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value === 'number') return (_address, hop) => hop < value
  return value === false ? false : [...value]
}

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Keys and databases; relative to the working directory. */
  DATA_DIR: z.string().min(1).default('data'),
  /** Defaults to the policy and users shipped with the package; a value is relative to the working directory. */
  /**
   * PostgreSQL (`postgres://user@host:5432/db`): set, the IdP's sessions, grants, issued-token
   * records and signing keys, App B's todos and App C's activity live there, shared by every
   * instance; unset, SQLite files and a key file in DATA_DIR (one instance).
   */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** Redis (`redis://host:6379`): set, the abuse limits are counted across instances. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  /** Prefix of every Redis key onbehalf writes: several deployments can share one Redis. */
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1-64 letters, digits, or . _ : -')
    .default('onbehalf:'),
  /**
   * Secret of the DPoP nonces (RFC 9449 §8, §9) the IdP, the STS and App B hand out: instances
   * that share it accept each other's nonces. Unset: a random one per process (one instance).
   * Nonces are demanded only where configured (policy `dpop.nonce`, APP_B_DPOP_NONCE).
   */
  DPOP_NONCE_SECRET: secret.optional(),
  /** How long one nonce window lasts; a nonce is accepted for one to two windows. */
  DPOP_NONCE_WINDOW_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),
  /**
   * `on`: the IdP, the STS, App B and App C serve Prometheus metrics at `GET /metrics` on their own
   * port (src/metrics/metrics.ts). Off by default.
   */
  METRICS: z.enum(['on', 'off']).default('off'),
  /** When set, a scrape of `/metrics` must send `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: z
    .string()
    .regex(/^[\x21-\x7E]{16,256}$/, 'must be 16-256 visible ASCII characters')
    .optional(),
  /**
   * Which peers' `X-Forwarded-For` to believe for the client IP of per-IP limits and logs (IdP,
   * STS): `off` (default: the socket's address, the header is ignored), a number of proxy hops
   * (`1`: the load balancer in front), or a comma-separated list of proxy addresses or CIDR ranges
   * (`127.0.0.1,10.0.0.0/8`).
   */
  TRUST_PROXY: trustProxy.default(false),
  POLICY_FILE: z.string().min(1).default(packageFile('config/policy.json')),
  USERS_FILE: z.string().min(1).default(packageFile('config/users.json')),

  IDP_ISSUER: httpUrl.default('http://localhost:9000'),
  IDP_PORT: port.default(9000),
  IDP_COOKIE_SECRET: secret.optional(),
  /** Abuse limits of the IdP (login form, token endpoint): `on` or `off` (e.g. for load tests). */
  IDP_RATE_LIMITS: z.enum(['on', 'off']).default('on'),
  /** Token endpoint requests per minute, per client IP and per authenticated client. */
  IDP_TOKEN_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  /** Login form posts per minute per client IP. */
  IDP_LOGIN_POSTS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(60),

  APP_A_URL: httpUrl.default('http://localhost:3993'),
  APP_A_PORT: port.default(3993),
  APP_A_CLIENT_ID: z.string().min(1).default('app-a'),
  APP_A_CLIENT_SECRET: secret.optional(),
  APP_A_SESSION_SECRET: secret.optional(),

  APP_B_URL: httpUrl.default('http://localhost:3994'),
  APP_B_PORT: port.default(3994),
  APP_B_CLIENT_ID: z.string().min(1).default('app-b'),
  APP_B_CLIENT_SECRET: secret.optional(),
  APP_B_SESSION_SECRET: secret.optional(),
  /**
   * Services allowed to call App B's service API (checked on azp/client_id and the outermost act).
   * `app-b` is there for the JWT federation re-issue: its tokens carry `azp` = `client_id` = app-b
   * and nothing names App A, so App B must accept "itself" as the caller for that path to work.
   */
  APP_B_ALLOWED_CALLERS: clientIdList('app-a,app-b,app-d'),
  /**
   * App B asks the IdP's introspection endpoint (RFC 7662) whether a token is still active before
   * serving it, so a revoked delegation or grant is refused at once instead of at the token's `exp`:
   * `off`, `delegated` (tokens of the embedded IdP that carry `act`: an agent or service acting
   * for the user) or `all` (every token of the embedded IdP). Needs `IDP=embedded`.
   */
  APP_B_INTROSPECTION: z.enum(['off', 'delegated', 'all']).default('delegated'),
  /**
   * How App B names the services that act for a user in its todo list ("added by Assistant on
   * your behalf"): `client_id=Name` pairs, comma-separated. An actor not listed is shown by id.
   */
  APP_B_ACTOR_NAMES: z
    .string()
    .regex(
      /^[A-Za-z0-9._-]+=[^,=]{1,64}(,[A-Za-z0-9._-]+=[^,=]{1,64})*$/,
      'must be client_id=Name pairs, comma-separated',
    )
    .default('app-a=App A,app-b=App B,app-d=Assistant')
    .transform((value) =>
      Object.freeze(
        Object.fromEntries(
          value.split(',').map((pair) => {
            const at = pair.indexOf('=')
            return [pair.slice(0, at), pair.slice(at + 1).trim()]
          }),
        ) as Record<string, string>,
      ),
    ),
  /** Remember verified tokens for up to 60 s (one signature check per token): `on` or `off`. */
  APP_B_VERIFIED_TOKEN_CACHE: z.enum(['on', 'off']).default('on'),
  /**
   * App A's token for App B's todos card is DPoP-bound (RFC 9449) to App A's key. Needs an IdP whose
   * exchange binds tokens. Default: `on` with the embedded IdP, `off` with Keycloak or authentik.
   */
  APP_A_DPOP: z.enum(['on', 'off']).optional(),
  /** App B demands a server-issued nonce in every DPoP proof (RFC 9449 §9): `on` or `off`. */
  APP_B_DPOP_NONCE: z.enum(['on', 'off']).default('off'),
  /**
   * Callers whose own service token may name the user in `X-User-Sub` (the "M2M + header"
   * workaround, on for app-a so the demo can show it). `none` switches it off for everyone.
   */
  APP_B_TRUSTED_HEADER_CALLERS: z
    .string()
    .regex(
      /^(none|[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*)$/,
      'must be `none` or a comma-separated list of client ids',
    )
    .default('app-a')
    .transform((value) => Object.freeze(value === 'none' ? [] : value.split(','))),

  /** The attack lab (App A's /attack page, `onbehalf attack`): the attacker's login and the victim. */
  ATTACK_ATTACKER: z.string().min(1).default('bob'),
  ATTACK_ATTACKER_PASSWORD: z.string().min(1).default('changeme'),
  ATTACK_VICTIM: z.string().min(1).default('alice'),
  /** The victim's `sub` at the IdP; unset, the launchers look ATTACK_VICTIM up in USERS_FILE. */
  ATTACK_VICTIM_SUB: z.string().min(1).max(255).optional(),

  /** The onbehalf STS started by `npm start` (RFC 8693 for IdPs that lack it), trusting the IdP. */
  STS_ISSUER: httpUrl.default('http://localhost:9100'),
  STS_PORT: port.default(9100),
  STS_CONFIG: z.string().min(1).default(packageFile('deploy/sts/embedded.json')),
  /**
   * The trust domain of App B and App C for transaction tokens (draft-ietf-oauth-transaction-
   * tokens-10): the STS's txnTokens.trustDomain in deploy/sts/embedded.json, and what App C accepts.
   */
  TXN_TRUST_DOMAIN: z
    .string()
    .regex(/^[\x21-\x7E]{1,255}$/, 'must be 1-255 visible ASCII characters')
    .default('onbehalf.local'),
  /**
   * How App B records activity in App C: `exchange` (a second RFC 8693 exchange, a token for App C)
   * or `txn-token` (a transaction token from the STS in the Txn-Token header). App A's chain card
   * shows both ways either way.
   */
  APP_B_TO_APP_C: z.enum(['exchange', 'txn-token']).default('exchange'),

  APP_C_URL: httpUrl.default('http://localhost:3995'),
  APP_C_PORT: port.default(3995),
  APP_C_CLIENT_ID: z.string().min(1).default('app-c'),
  /** Services allowed to call App C (checked on azp/client_id and the outermost act). */
  APP_C_ALLOWED_CALLERS: clientIdList('app-b'),

  /** App D, the Assistant agent (`onbehalf agent`): its confidential client at the IdP. */
  APP_D_CLIENT_ID: z.string().min(1).default('app-d'),
  APP_D_CLIENT_SECRET: secret.optional(),
  /**
   * Where the agent keeps its state (the user's refresh token, 0600): default `DATA_DIR/app-d`.
   */
  APP_D_STATE_DIR: z.string().min(1).optional(),
})

type RawEnv = z.infer<typeof envSchema>
type SecretName = keyof typeof DEVELOPMENT_SECRETS
export type Env = Readonly<Omit<RawEnv, SecretName> & Record<SecretName, string>> & {
  /** Which identity provider the apps use (IDP=embedded|keycloak|authentik|generic) and how. */
  readonly idp: Readonly<IdpSettings>
  /** Names of secrets that fell back to their development default. */
  readonly developmentSecrets: readonly SecretName[]
}

export { ConfigError }

/** Reads `.env` (if present) into `process.env` without overriding variables already set. */
export function loadDotEnv(file = '.env'): void {
  const path = resolve(file)
  if (existsSync(path)) process.loadEnvFile(path)
}

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // Empty strings count as unset, so `FOO=` in .env means "use the default".
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([, v]) => v !== undefined && v !== ''),
  )
  const result = envSchema.safeParse(cleaned)
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    )
  }
  const raw = result.data
  const developmentSecrets: SecretName[] = []
  const secrets = {} as Record<SecretName, string>
  const problems: string[] = []
  for (const name of Object.keys(DEVELOPMENT_SECRETS) as SecretName[]) {
    const value = raw[name]
    if (value) {
      secrets[name] = value
    } else if (raw.NODE_ENV === 'production') {
      problems.push(`${name}: required when NODE_ENV=production`)
    } else {
      secrets[name] = DEVELOPMENT_SECRETS[name]
      developmentSecrets.push(name)
    }
  }
  if (raw.METRICS === 'on' && raw.NODE_ENV === 'production' && raw.METRICS_TOKEN === undefined) {
    problems.push('METRICS_TOKEN: required when METRICS=on and NODE_ENV=production')
  }
  let idp: Readonly<IdpSettings> | undefined
  try {
    idp = loadIdpSettings(cleaned)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    problems.push(...error.problems)
  }
  if (problems.length > 0 || !idp) throw new ConfigError(problems)
  return Object.freeze({
    ...raw,
    ...secrets,
    idp,
    developmentSecrets: Object.freeze(developmentSecrets),
  })
}

/** Whether and how the services serve `/metrics` (METRICS, METRICS_TOKEN). */
export function metricsSettingsOf(env: Pick<Env, 'METRICS' | 'METRICS_TOKEN'>): MetricsSettings {
  return Object.freeze({
    enabled: env.METRICS === 'on',
    ...(env.METRICS_TOKEN === undefined ? {} : { token: env.METRICS_TOKEN }),
  })
}

/**
 * The values `${NAME}` may refer to in config files: the validated configuration (with its
 * defaults) over the raw environment.
 */
export function configVariables(
  env: Env,
  source: NodeJS.ProcessEnv = process.env,
): Readonly<Record<string, string | undefined>> {
  const values: Record<string, string | undefined> = { ...source }
  for (const [name, value] of Object.entries(env)) {
    if (typeof value === 'string' || typeof value === 'number') values[name] = String(value)
    else if (Array.isArray(value)) values[name] = value.join(',')
  }
  return Object.freeze(values)
}
