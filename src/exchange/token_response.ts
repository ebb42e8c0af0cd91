/**
 * What every token endpoint answer carries, success or error: RFC 6749 §5.1 forbids caching it.
 *
 * @example
 * ```ts
 * reply.headers(NO_STORE_HEADERS).send(body)
 * ```
 */
export const NO_STORE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
})
