/**
 * Parameter syntax shared by every grant and by the policies that name scopes and resources:
 * RFC 6749 §3.3 scope tokens, RFC 8707 resource URIs, and `scope` itself.
 */
import { InvalidRequest } from './errors.js'

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
