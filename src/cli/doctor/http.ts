/** The doctor's HTTP and token helpers: a form POST with a timeout, decoded (unverified) claims. */
import { basicAuthorization } from '../../client/token_exchange_client.js'
import type { DoctorOptions, OAuthAnswer } from './types.js'

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

function decodePart(token: string, index: 0 | 1): Record<string, unknown> | undefined {
  try {
    const part = token.split('.')[index]
    return part
      ? (JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

export const decodeClaims = (token: string) => decodePart(token, 1)
export const decodeHeader = (token: string) => decodePart(token, 0)

export function describeClaims(claims: Record<string, unknown> | undefined): string {
  if (!claims) return 'opaque token (not a JWT)'
  const show = (value: unknown) => (value === undefined ? '—' : JSON.stringify(value))
  return `sub=${show(claims.sub)} aud=${show(claims.aud)} azp=${show(claims.azp ?? claims.client_id)} act=${show(claims.act)} scope=${show(claims.scope)}`
}

export function errorText(answer: OAuthAnswer): string {
  const { error, error_description: description } = answer.body
  return `${answer.status} ${String(error ?? 'no error code')}${description ? ` "${String(description)}"` : ''}`
}

export async function postForm(
  options: DoctorOptions,
  endpoint: string,
  form: Record<string, string>,
  auth: boolean,
): Promise<OAuthAnswer> {
  const doFetch = options.fetch ?? fetch
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  }
  if (auth) headers.authorization = basicAuthorization(options.clientId, options.clientSecret)
  const response = await doFetch(endpoint, {
    method: 'POST',
    headers,
    body: new URLSearchParams(form),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  })
  const text = await response.text()
  let body: Record<string, unknown>
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    body = { error: 'invalid_response', error_description: text.slice(0, 120) }
  }
  return { status: response.status, body }
}

export function networkMessage(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (error as Error).message
}
