/**
 * IdP selection from the environment, validated once with one zod schema. Every problem is
 * reported at once, each naming its variable (as `loadEnv()` does).
 *
 *   IDP                 embedded | keycloak | authentik | generic (default embedded)
 *   IDP_ISSUER          explicit issuer; required for generic, ignored for authentik
 *   IDP_STRATEGIES      comma-separated subset of rfc8693, jwt-federation, header-workaround
 *   KEYCLOAK_URL        default http://127.0.0.1:8080    KEYCLOAK_REALM  default onbehalf
 *   AUTHENTIK_URL       default http://authentik:9000    AUTHENTIK_VERSION default 2026.5
 *
 * @example
 * const idp = loadIdpSettings(process.env)
 * idpProfile(idp.kind).issuerFor(idp, 'app-a')
 */
import { z } from 'zod'
import { ConfigError } from './config_error.js'
import {
  IDP_KINDS,
  STRATEGIES,
  idpProfile,
  parseCalVer,
  type IdpSettings,
  type Strategy,
} from '../idp_profiles/profiles.js'

const httpUrl = z
  .string()
  .refine((value) => /^https?:\/\//.test(value) && URL.canParse(value), 'must be an http(s) URL')

const schema = z.object({
  IDP: z.enum(IDP_KINDS, { message: `must be one of ${IDP_KINDS.join(', ')}` }).default('embedded'),
  IDP_ISSUER: httpUrl.optional(),
  IDP_JWKS_URI: httpUrl.optional(),
  IDP_STRATEGIES: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(z.enum(STRATEGIES, { message: `each must be one of ${STRATEGIES.join(', ')}` }))
        .min(1),
    )
    .optional(),
  KEYCLOAK_URL: httpUrl.default('http://127.0.0.1:8080'),
  KEYCLOAK_REALM: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'must be a realm name (letters, digits, . _ -)')
    .default('onbehalf'),
  AUTHENTIK_URL: httpUrl.default('http://authentik:9000'),
  AUTHENTIK_VERSION: z
    .string()
    .refine(
      (value) => parseCalVer(value) !== undefined,
      'must be a version like 2026.5 or 2026.8.1',
    )
    .default('2026.5'),
})

/** Reads the IdP settings; throws `ConfigError` listing every problem, each naming its variable. */
export function loadIdpSettings(source: NodeJS.ProcessEnv = process.env): Readonly<IdpSettings> {
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([, value]) => value !== undefined && value !== ''),
  )
  const result = schema.safeParse(cleaned)
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${String(issue.path[0] ?? '(root)')}: ${issue.message}`),
    )
  }
  const raw = result.data
  const problems: string[] = []
  if (raw.IDP === 'generic' && !raw.IDP_ISSUER)
    problems.push('IDP_ISSUER: required when IDP=generic')
  // IDP_ISSUER is not an error with IDP=authentik (.env.example sets it for the embedded IdP);
  // authentik's issuers are per application and come from AUTHENTIK_URL.
  const base: IdpSettings = {
    kind: raw.IDP,
    issuer: raw.IDP_ISSUER,
    ...(raw.IDP_JWKS_URI ? { jwksUri: raw.IDP_JWKS_URI } : {}),
    keycloakUrl: raw.KEYCLOAK_URL.replace(/\/+$/, ''),
    keycloakRealm: raw.KEYCLOAK_REALM,
    authentikUrl: raw.AUTHENTIK_URL.replace(/\/+$/, ''),
    authentikVersion: parseCalVer(raw.AUTHENTIK_VERSION)!,
    strategies: [],
  }
  const supported = idpProfile(raw.IDP).supportedStrategies(base)
  const requested: readonly Strategy[] = raw.IDP_STRATEGIES ?? supported
  const unsupported = requested.filter((strategy) => !supported.includes(strategy))
  if (unsupported.length > 0) {
    const who = raw.IDP === 'authentik' ? `authentik ${raw.AUTHENTIK_VERSION}` : raw.IDP
    problems.push(
      `IDP_STRATEGIES: ${who} does not support ${unsupported.join(', ')} (supported: ${supported.join(', ')})`,
    )
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze({ ...base, strategies: Object.freeze([...new Set(requested)]) })
}
