/**
 * Keycloak's server distribution on disk: fetched through Maven (`mvn dependency:copy`, so
 * `~/.m2` caches it and a second clone downloads nothing), unpacked once into KEYCLOAK_HOME.
 * No Docker. Where Maven or Java is missing, the error says what to install, or to use the
 * compose file instead.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { KeycloakLauncherError } from './errors.js'
import { runTool } from './run_tool.js'
import { KEYCLOAK_COMPOSE_FILE, distributionArtifact, type LauncherSettings } from './settings.js'

const INSTALL_HINT =
  'install Maven and a JDK 17+ (Debian/Ubuntu: apt-get install maven default-jdk-headless; ' +
  `macOS: brew install maven openjdk), or run Keycloak in Docker: docker compose -f ${KEYCLOAK_COMPOSE_FILE} up -d`

export const distributionDir = (settings: LauncherSettings) =>
  join(settings.home, `keycloak-${settings.version}`)
export const kcScript = (settings: LauncherSettings) =>
  join(distributionDir(settings), 'bin', 'kc.sh')

/** Java is what Keycloak runs on; Maven fetches it. Both are checked before anything else. */
export async function checkPrerequisites(): Promise<void> {
  if (!(await runTool('java', ['-version'])))
    throw new KeycloakLauncherError('java_missing', `java not found: ${INSTALL_HINT}`)
}

/** The unpacked distribution's folder; fetches and unpacks it when it is not there yet. */
export async function ensureDistribution(
  settings: LauncherSettings,
  progress: (line: string) => void = () => {},
): Promise<string> {
  const dir = distributionDir(settings)
  if (existsSync(kcScript(settings))) return dir
  await checkPrerequisites()
  const downloads = join(settings.home, 'download')
  mkdirSync(downloads, { recursive: true })
  const artifact = distributionArtifact(settings.version)
  progress(`fetching ${artifact} through Maven (cached in ~/.m2 after the first time)`)
  const fetched = await runTool('mvn', [
    '-B',
    '-q',
    'dependency:copy',
    `-Dartifact=${artifact}`,
    `-DoutputDirectory=${downloads}`,
  ])
  if (!fetched) throw new KeycloakLauncherError('mvn_missing', `mvn not found: ${INSTALL_HINT}`)
  const zip = join(downloads, `keycloak-quarkus-dist-${settings.version}.zip`)
  if (fetched.code !== 0 || !existsSync(zip)) {
    throw new KeycloakLauncherError(
      'fetch_failed',
      `mvn dependency:copy -Dartifact=${artifact} failed (exit ${fetched.code}):\n${fetched.tail}`,
    )
  }
  progress(`unpacking into ${settings.home}`)
  // unzip keeps the scripts' executable bits; the JDK's jar tool is the fallback (bits restored).
  const unpacked =
    (await runTool('unzip', ['-q', '-o', zip, '-d', settings.home])) ??
    (await runTool('jar', ['xf', zip], { cwd: settings.home }))
  if (!unpacked || unpacked.code !== 0 || !existsSync(kcScript(settings))) {
    throw new KeycloakLauncherError(
      'unpack_failed',
      `could not unpack ${zip} (${unpacked ? unpacked.tail : 'neither unzip nor jar found'})`,
    )
  }
  for (const script of readdirSync(join(dir, 'bin')).filter((name) => name.endsWith('.sh')))
    chmodSync(join(dir, 'bin', script), 0o755)
  return dir
}
