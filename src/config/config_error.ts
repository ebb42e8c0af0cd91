/** A configuration problem found at start-up; each entry names the variable or field at fault. */
export class ConfigError extends Error {
  static readonly code = 'ERR_CONFIG_INVALID'
  readonly code = ConfigError.code
  override name = 'ConfigError'
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
  }
}
