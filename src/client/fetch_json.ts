/**
 * One HTTP call whose answer is read as JSON, for the clients that turn every fault into data or a
 * typed error: a per-call timeout, redirects refused, the body read whole and parsed leniently
 * (`json` is `undefined` when it is not JSON). A fault before an answer (no connection, timeout)
 * is returned, never thrown. Nothing is logged: requests carry tokens.
 *
 * @example
 * const answer = await fetchJson(fetch, url, { headers: { authorization } }, 5000)
 * if (!answer.reached) return answer.timedOut ? 'no answer in time' : 'connection failed'
 * if (!answer.response.ok) …answer.json…
 */
export type JsonAnswer =
  | { readonly reached: true; readonly response: Response; readonly json: unknown }
  | { readonly reached: false; readonly timedOut: boolean; readonly cause: unknown }

export async function fetchJson(
  fetchImpl: typeof fetch,
  url: string,
  init: Omit<RequestInit, 'redirect' | 'signal'>,
  timeoutMs: number,
): Promise<JsonAnswer> {
  let response: Response
  let text: string
  try {
    response = await fetchImpl(url, {
      ...init,
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    })
    text = await response.text()
  } catch (cause) {
    const timedOut = cause instanceof Error && cause.name === 'TimeoutError'
    return { reached: false, timedOut, cause }
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { reached: true, response, json }
}
