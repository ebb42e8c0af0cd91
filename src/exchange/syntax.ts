/**
 * Parameter syntax shared by every grant and by the policies that name scopes and resources:
 * RFC 6749 §3.3 scope tokens, RFC 8707 resource URIs, and `scope` itself; and the reading of a
 * form parameter that may appear once, capped in size (a present but oversized value is refused,
 * never dropped: lesson S4).
 */
import { InvalidRequest } from './errors.js'
import type { GrantParams } from './types.js'

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** RFC 8707 §2: an absolute URI without fragment; it also says the URI SHOULD NOT carry a query. */
export function isResourceUri(value: string): boolean {
  return !value.includes('#') && !value.includes('?') && isAbsoluteUri(value)
}

function isAbsoluteUri(value: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7E]+$/.test(value) && URL.canParse(value)
}

/** `invalid_request` whose description names only the parameter; the reason goes to `detail`. */
export function malformed(name: string, problem: string, detail: string): InvalidRequest {
  return new InvalidRequest({
    description: `${name} ${problem}`,
    detail: detail.startsWith(name) ? detail : `${name}: ${detail}`,
  })
}

/** A parameter that must appear at most once; `undefined` when absent or empty. */
export function readSingle(
  params: GrantParams,
  name: string,
  maxLength: number,
): string | undefined {
  const raw = params[name]
  let value: string | undefined
  if (typeof raw === 'string') {
    value = raw
  } else if (raw !== undefined) {
    if (raw.length > 1) throw malformed(name, 'is duplicated', `${raw.length} values`)
    value = raw[0]
  }
  if (value === undefined || value === '') return undefined
  if (value.length > maxLength) {
    throw malformed(name, 'is too long', `${value.length} characters, limit ${maxLength}`)
  }
  return value
}

/** RFC 6749 §3.3: scope = scope-token *( SP scope-token ). */
export function parseScope(scope: string, maxScopes: number): readonly string[] {
  const tokens = scope.split(' ')
  if (tokens.length > maxScopes) {
    throw malformed('scope', 'has too many values', `${tokens.length} scopes, limit ${maxScopes}`)
  }
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token)) {
      throw malformed('scope', 'is malformed', 'scope is not space-separated RFC 6749 scope-tokens')
    }
  }
  return Object.freeze([...new Set(tokens)])
}

/** An `audience` value: visible ASCII, no spaces (client ids and URIs). */
export function checkAudienceValue(audience: string): void {
  if (!/^[\x21-\x7E]+$/.test(audience)) {
    throw malformed('audience', 'is malformed', 'audience has characters outside visible ASCII')
  }
}
