/** The no-Docker Keycloak: settings, the Maven-fetched distribution, the process. */
export { KeycloakLauncherError, type KeycloakLauncherFailure } from './errors.js'
export {
  KEYCLOAK_COMPOSE_FILE,
  KEYCLOAK_REALM_FILE,
  KEYCLOAK_VERSION_FILE,
  baseUrlOf,
  distributionArtifact,
  issuerOf,
  keycloakVersion,
  loadLauncherSettings,
  type LauncherSettings,
} from './settings.js'
export { distributionDir, ensureDistribution } from './distribution.js'
export {
  keycloakStatus,
  realmIsReady,
  startKeycloak,
  stopKeycloak,
  type KeycloakStatus,
  type RunningKeycloak,
} from './server.js'
