/** The no-Docker Keycloak: settings, the Maven-fetched distribution, the process. */
export { KeycloakLauncherError } from './errors.js'
export { keycloakVersion, loadLauncherSettings, type LauncherSettings } from './settings.js'
export { keycloakStatus, startKeycloak, stopKeycloak } from './server.js'
