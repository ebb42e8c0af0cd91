/**
 * `${NAME}` and `${NAME:-default}` in the strings (and object keys) of a parsed JSON config file,
 * replaced by configuration values. Unknown names are reported with the path of the field that
 * holds them (`clients.app-a.redirectUris[0]`); `$comment` fields are left as written.
 */

export type ConfigVariables = Readonly<Record<string, string | undefined>>

export type ReportProblem = (path: string, message: string) => void

const REFERENCE = /\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}/g

export function interpolate(
  value: unknown,
  vars: ConfigVariables,
  report: ReportProblem,
  path = '',
): unknown {
  const replace = (text: string, at: string) =>
    text.replace(REFERENCE, (whole, name: string, fallback?: string) => {
      const replacement = vars[name] || fallback
      if (replacement !== undefined) return replacement
      report(at || '(root)', `unknown variable \${${name}}`)
      return whole
    })
  if (typeof value === 'string') return replace(value, path)
  if (Array.isArray(value))
    return value.map((item, index) => interpolate(item, vars, report, `${path}[${index}]`))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => {
        if (key === '$comment') return [key, item]
        const at = path ? `${path}.${key}` : key
        return [replace(key, at), interpolate(item, vars, report, at)]
      }),
    )
  }
  return value
}

/** A zod issue path as written in messages: `clients.app-a.redirectUris[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) =>
      typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key),
    '',
  )
}
