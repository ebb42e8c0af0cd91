/**
 * The two HTTP calls every path makes — a token request and a call to the target's service API —
 * returned as data (status, parsed JSON), never thrown, so a failing path can be shown next to the
 * others. Tokens and secrets are sent, never recorded.
 */
import { decodeJwt } from 'jose'
import { basicAuthorization } from '../../client/token_exchange_client.js'
import type { PathTarget, ServiceCallRecord } from './types.js'

export interface TokenAnswer {
  readonly status: number
  readonly body: Record<string, unknown>
}

async function resolveEndpoint(target: PathTarget): Promise<string> {
  return typeof target.tokenEndpoint === 'string' ? target.tokenEndpoint : target.tokenEndpoint()
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text)
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {}
  } catch {
    return {}
  }
}

/** POSTs a form to the token endpoint, with App A's Basic credentials when `authenticate`. */
export async function requestToken(
  target: PathTarget,
  form: Record<string, string>,
  authenticate: boolean,
  /** More headers (a `DPoP` proof). */
  extraHeaders: Record<string, string> = {},
): Promise<TokenAnswer> {
  const fetchImpl = target.fetch ?? globalThis.fetch
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    ...extraHeaders,
  }
  if (authenticate) headers.authorization = basicAuthorization(target.clientId, target.clientSecret)
  try {
    const response = await fetchImpl(await resolveEndpoint(target), {
      method: 'POST',
      headers,
      body: new URLSearchParams(form),
      redirect: 'error',
      signal: AbortSignal.timeout(target.timeoutMs ?? 5000),
    })
    return { status: response.status, body: parseJson(await response.text()) }
  } catch {
    return {
      status: 0,
      body: { error: 'network_error', error_description: 'the IdP cannot be reached' },
    }
  }
}

/** GET on the service API with a bearer token and optional extra headers (`X-User-Sub`). */
export async function callService(
  target: PathTarget,
  path: string,
  accessToken: string,
  extraHeaders: Record<string, string> = {},
): Promise<ServiceCallRecord & { body: Record<string, unknown> }> {
  const fetchImpl = target.fetch ?? globalThis.fetch
  const userHeader = extraHeaders['x-user-sub']
  let status = 0
  let body: Record<string, unknown>
  try {
    const response = await fetchImpl(`${target.serviceUrl.replace(/\/+$/, '')}${path}`, {
      headers: {
        authorization: `Bearer ${accessToken}`,
        accept: 'application/json',
        ...extraHeaders,
      },
      redirect: 'error',
      signal: AbortSignal.timeout(target.timeoutMs ?? 5000),
    })
    status = response.status
    body = parseJson(await response.text())
    if (!response.ok && body.error === undefined) {
      const challenge = response.headers.get('www-authenticate') ?? ''
      const error = /error="([^"]*)"/.exec(challenge)?.[1]
      if (error) body = { error }
    }
  } catch {
    body = { error: 'unreachable', error_description: 'the service cannot be reached' }
  }
  const str = (value: unknown) => (typeof value === 'string' ? value : undefined)
  return {
    path,
    ...(userHeader !== undefined ? { userHeader } : {}),
    status,
    ...(typeof body.count === 'number' ? { count: body.count } : {}),
    ...(Array.isArray(body.todos) ? { count: body.todos.length } : {}),
    ...(str(body.user) ? { user: str(body.user) } : {}),
    ...(str(body.caller) ? { caller: str(body.caller) } : {}),
    ...(str(body.decidedBy) ? { decidedBy: str(body.decidedBy) } : {}),
    ...(str(body.headerIgnored) ? { headerIgnored: str(body.headerIgnored) } : {}),
    ...(str(body.error) ? { error: str(body.error) } : {}),
    ...(str(body.error_description) ? { description: str(body.error_description) } : {}),
    body,
  }
}

/** Decoded (not verified) claims for display; `{}` when the value is not a JWT. */
export function decodeClaims(token: string): Record<string, unknown> {
  try {
    return decodeJwt(token) as Record<string, unknown>
  } catch {
    return {}
  }
}

export function describeTokenError(answer: TokenAnswer): string {
  const error = typeof answer.body.error === 'string' ? answer.body.error : `HTTP ${answer.status}`
  const description =
    typeof answer.body.error_description === 'string' ? ` (${answer.body.error_description})` : ''
  return `${error}${description}`
}
