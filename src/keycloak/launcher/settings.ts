/**
 * The launcher's settings, from the environment, validated once with zod (each problem names its
 * variable). The Keycloak version is not a setting: it is pinned in deploy/keycloak/VERSION, which
 * the compose file (checked by test/deploy/keycloak_static.test.ts), the launcher and CI all use.
 *
 *   KEYCLOAK_HOME             where the distribution, its H2 database and the log live
 *                             (default .keycloak in the working directory; git-ignored)
 *   KEYCLOAK_PORT             HTTP port on 127.0.0.1 (default 8080)
 *   KEYCLOAK_MANAGEMENT_PORT  health endpoints (default 9080: Keycloak's own default 9000 is the
 *                             embedded IdP's port)
 *   KEYCLOAK_READY_TIMEOUT    seconds to wait for the realm's discovery (default 300)
 *   KC_BOOTSTRAP_ADMIN_USERNAME / KC_BOOTSTRAP_ADMIN_PASSWORD   the admin (default admin / admin)
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'
import { ConfigError } from '../../config/config_error.js'
import { packageFile } from '../../config/package_files.js'

export const KEYCLOAK_VERSION_FILE = 'deploy/keycloak/VERSION'
export const KEYCLOAK_REALM_FILE = 'deploy/keycloak/realm-onbehalf.json'
export const KEYCLOAK_COMPOSE_FILE = 'deploy/keycloak/docker-compose.keycloak.yml'
/** The Maven coordinates of Keycloak's server distribution (Maven Central). */
export const distributionArtifact = (version: string) =>
  `org.keycloak:keycloak-quarkus-dist:${version}:zip`

/** The pinned Keycloak version (deploy/keycloak/VERSION). */
export function keycloakVersion(): string {
  const version = readFileSync(packageFile(KEYCLOAK_VERSION_FILE), 'utf8').trim()
  if (!/^\d+\.\d+\.\d+$/.test(version))
    throw new ConfigError([`${KEYCLOAK_VERSION_FILE}: "${version}" is not a version like 26.7.3`])
  return version
}

const port = z.coerce.number().int().min(1).max(65535)
const schema = z
  .object({
    KEYCLOAK_HOME: z.string().min(1).default('.keycloak'),
    KEYCLOAK_PORT: port.default(8080),
    KEYCLOAK_MANAGEMENT_PORT: port.default(9080),
    KEYCLOAK_READY_TIMEOUT: z.coerce.number().int().min(10).max(3600).default(300),
    KC_BOOTSTRAP_ADMIN_USERNAME: z.string().min(1).default('admin'),
    KC_BOOTSTRAP_ADMIN_PASSWORD: z.string().min(1).default('admin'),
  })
  .refine((v) => v.KEYCLOAK_PORT !== v.KEYCLOAK_MANAGEMENT_PORT, {
    path: ['KEYCLOAK_MANAGEMENT_PORT'],
    message: 'must differ from KEYCLOAK_PORT',
  })

export interface LauncherSettings {
  readonly version: string
  /** Absolute. */
  readonly home: string
  readonly host: '127.0.0.1'
  readonly port: number
  readonly managementPort: number
  readonly readyTimeoutMs: number
  readonly adminUser: string
  readonly adminPassword: string
  /** The realm file imported at start, and the realm whose discovery means "ready". */
  readonly realmFile: string
  readonly realm: string
}

export function loadLauncherSettings(env: NodeJS.ProcessEnv = process.env): LauncherSettings {
  const result = schema.safeParse(env)
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${String(issue.path[0] ?? '(root)')}: ${issue.message}`),
    )
  }
  const v = result.data
  return Object.freeze({
    version: keycloakVersion(),
    home: resolve(v.KEYCLOAK_HOME),
    host: '127.0.0.1',
    port: v.KEYCLOAK_PORT,
    managementPort: v.KEYCLOAK_MANAGEMENT_PORT,
    readyTimeoutMs: v.KEYCLOAK_READY_TIMEOUT * 1000,
    adminUser: v.KC_BOOTSTRAP_ADMIN_USERNAME,
    adminPassword: v.KC_BOOTSTRAP_ADMIN_PASSWORD,
    realmFile: packageFile(KEYCLOAK_REALM_FILE),
    realm: 'onbehalf',
  })
}

export const baseUrlOf = (settings: LauncherSettings) => `http://${settings.host}:${settings.port}`
export const issuerOf = (settings: LauncherSettings) =>
  `${baseUrlOf(settings)}/realms/${encodeURIComponent(settings.realm)}`
