/** Why `onbehalf keycloak up|down|status` stopped; `reason` tells the CLI which advice to print. */
export type KeycloakLauncherFailure =
  | 'mvn_missing'
  | 'java_missing'
  | 'fetch_failed'
  | 'unpack_failed'
  | 'port_in_use'
  | 'already_running'
  | 'exited'
  | 'not_ready'

export class KeycloakLauncherError extends Error {
  static readonly code = 'ERR_KEYCLOAK_LAUNCHER'
  readonly code = KeycloakLauncherError.code
  override name = 'KeycloakLauncherError'
  constructor(
    readonly reason: KeycloakLauncherFailure,
    message: string,
  ) {
    super(message)
  }
}
