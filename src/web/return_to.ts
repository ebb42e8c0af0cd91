/**
 * Where to send the browser after sign-in: a same-origin relative path, validated and encoded once
 * (issue 12 item 4). Anything else, and anything the URL parser cannot turn into a path of this
 * origin, becomes `/`. The result is printable ASCII only, so it is always a valid `Location`
 * header and safe inside `encodeURIComponent` (no lone surrogate): `/😀` becomes `/%F0%9F%98%80`,
 * a decoded `/\u2028` becomes `/%E2%80%A8`, never a 500.
 */

/** A base no real request can have: only paths resolved against it stay on it. */
const BASE = 'http://return-to.invalid'
const MAX_LENGTH = 2048
/** Control characters and backslashes are refused before parsing (the parser drops tabs, reads \ as /). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const REFUSED = /[\u0000-\u001f\u007f\\]/
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/

/**
 * @example
 * safeReturnTo('/todos?x=1') // '/todos?x=1'
 * safeReturnTo('/😀')        // '/%F0%9F%98%80'
 * safeReturnTo('//evil.test') // '/'
 */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return '/'
  if (!value.startsWith('/') || value.startsWith('//') || REFUSED.test(value)) return '/'
  let url: URL
  try {
    url = new URL(value, BASE)
  } catch {
    return '/'
  }
  if (url.origin !== BASE) return '/'
  const path = `${url.pathname}${url.search}${url.hash}`
  // Dot segments are resolved by now: `/.//evil.test` would have become a scheme-relative `//…`.
  if (path.startsWith('//') || path.length > MAX_LENGTH || !PRINTABLE_ASCII.test(path)) return '/'
  return path
}
