/**
 * Puts the user's own access token and the exchanged token side by side, claim by claim, so the
 * dashboard can show what token exchange changed (RFC 8693 §4: `act`, `azp`/`client_id`, `aud`).
 * Works on decoded claims only; token strings never reach a page.
 */

export interface ClaimRow {
  name: string
  original: unknown
  exchanged: unknown
  differs: boolean
  /** True for NumericDate claims (RFC 7519 §2), shown also as a readable time. */
  isTime: boolean
}

const ORDER = [
  'iss',
  'sub',
  'aud',
  'azp',
  'client_id',
  'act',
  'may_act',
  'scope',
  'iat',
  'nbf',
  'exp',
  'auth_time',
  'jti',
]
const TIME_CLAIMS = new Set(['iat', 'nbf', 'exp', 'auth_time'])

function stable(value: unknown): string {
  if (value === undefined) return '\u0000undefined'
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  )
}

export function buildClaimsDiff(
  original: Record<string, unknown> | undefined,
  exchanged: Record<string, unknown> | undefined,
): ClaimRow[] {
  const left = original ?? {}
  const right = exchanged ?? {}
  const names = new Set([...Object.keys(left), ...Object.keys(right)])
  const ordered = [
    ...ORDER.filter((name) => names.has(name)),
    ...[...names].filter((name) => !ORDER.includes(name)).sort(),
  ]
  return ordered.map((name) => ({
    name,
    original: left[name],
    exchanged: right[name],
    differs: stable(left[name]) !== stable(right[name]),
    isTime: TIME_CLAIMS.has(name),
  }))
}

/** `2026-01-02 10:00:00 UTC (in 4 min)` for a NumericDate, both in epoch seconds. */
export function describeTime(seconds: number, now: number): string {
  const date = new Date(seconds * 1000)
  const iso = date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC')
  const delta = Math.round(seconds - now)
  const abs = Math.abs(delta)
  const span =
    abs < 60
      ? `${abs} s`
      : abs < 3600
        ? `${Math.round(abs / 60)} min`
        : abs < 86400
          ? `${Math.round(abs / 360) / 10} h`
          : `${Math.round(abs / 8640) / 10} d`
  return `${iso} (${delta >= 0 ? `in ${span}` : `${span} ago`})`
}
