/**
 * Files that ship with the onbehalf package — the default policy and users (`config/`), the STS
 * examples and the IdP stacks (`deploy/`), `package.json` — found from this module's own location,
 * never from the working directory. So `npx onbehalf start` works from any folder, from a clone
 * (sources run by tsx) and from an installed package (compiled `dist/`): `src/config/` and
 * `dist/config/` sit at the same depth below the package root.
 *
 * What a user names (a `POLICY_FILE`, `onbehalf sts --config <file>`, `DATA_DIR`) stays relative
 * to the working directory.
 *
 * @example
 * ```ts
 * const policyFile = packageFile('config/policy.json') // …/node_modules/onbehalf/config/policy.json
 * ```
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The folder holding onbehalf's package.json. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** The absolute path of a file shipped with the package, given relative to the package root. */
export function packageFile(relativePath: string): string {
  return join(PACKAGE_ROOT, relativePath)
}

let version: string | undefined

/** The installed package's version (package.json `version`). */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string })
    .version
  return version
}
