/**
 * Recording without secrets: every step of an attempt keeps the request sent and the answer, with
 * tokens replaced by `«jwt sub=… aud=… (N chars)»` plus their decoded claims, Basic credentials by
 * `Basic app-a:••••`, and todos cut to title and state.
 */
import { decodeClaims, type PathTarget } from '../demo/paths/index.js'
import type { AttemptStep } from './types.js'

/** An HTTP answer as the demo paths' helpers return it. */
export interface Answer {
  readonly status: number
  readonly body: Record<string, unknown>
}

/** `«jwt sub=… aud=… (N chars)»`: enough to tell tokens apart, nothing usable. */
export function describeToken(token: string): string {
  const claims = decodeClaims(token)
  const parts = ['sub', 'aud', 'client_id']
    .filter((name) => claims[name] !== undefined)
    .map((name) => `${name}=${JSON.stringify(claims[name])}`)
  return `«jwt ${parts.join(' ')} (${token.length} chars)»`
}

const TOKEN_FIELDS = new Set([
  'subject_token',
  'actor_token',
  'client_assertion',
  'access_token',
  'refresh_token',
  'id_token',
])

function redactForm(form: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(form).map(([key, value]) => [
      key,
      TOKEN_FIELDS.has(key) ? describeToken(value) : value,
    ]),
  )
}

function redactBody(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(body).map(([key, value]) => [
      key,
      TOKEN_FIELDS.has(key) && typeof value === 'string'
        ? describeToken(value)
        : key === 'todos' && Array.isArray(value)
          ? value.map((todo: Record<string, unknown>) => ({
              title: todo.title,
              completed: todo.completed,
            }))
          : value,
    ]),
  )
}

/** A POST to the token endpoint, `clientId` set when it was sent with App A's Basic credentials. */
export function tokenRequestStep(
  label: string,
  endpoint: string,
  form: Record<string, string>,
  clientId: string | undefined,
  answer: Answer,
): AttemptStep {
  const tokens: { label: string; claims: Record<string, unknown> }[] = []
  for (const field of ['subject_token', 'client_assertion']) {
    if (form[field]) tokens.push({ label: `sent ${field}`, claims: decodeClaims(form[field]!) })
  }
  if (typeof answer.body.access_token === 'string') {
    tokens.push({ label: 'issued access_token', claims: decodeClaims(answer.body.access_token) })
  }
  return {
    label,
    request: {
      method: 'POST',
      url: endpoint,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(clientId ? { authorization: `Basic ${clientId}:••••` } : {}),
      },
      form: redactForm(form),
    },
    response: { status: answer.status, body: redactBody(answer.body) },
    tokens,
  }
}

/** A GET to App B's service API with a bearer token (and any extra headers sent). */
export function serviceStep(
  label: string,
  target: PathTarget,
  path: string,
  token: string,
  headers: Record<string, string>,
  answer: Answer,
): AttemptStep {
  return {
    label,
    request: {
      method: 'GET',
      url: `${target.serviceUrl}${path}`,
      headers: { authorization: `Bearer ${describeToken(token)}`, ...headers },
    },
    response: { status: answer.status, body: redactBody(answer.body) },
    tokens: [{ label: 'bearer token', claims: decodeClaims(token) }],
  }
}
