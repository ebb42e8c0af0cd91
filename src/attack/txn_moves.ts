/**
 * The two moves the transaction-token attempts are made of: call a workload with a txn token (in
 * `Txn-Token`, or wrongly as a bearer token), and ask the Txn-Token Service for a txn token. Each
 * is recorded as a step the way the main lab records (no raw token or secret).
 */
import { basicAuthorization, TOKEN_EXCHANGE_GRANT } from '../client/token_exchange_client.js'
import { TXN_TOKEN_TYPE } from '../client/txn_token_client.js'
import { decodeClaims } from '../demo/paths/index.js'
import { describeToken, tokenRequestStep, type Answer } from './record.js'
import type { AttemptStep, TxnLabConfig } from './types.js'

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

async function send(
  config: TxnLabConfig,
  url: string,
  init: {
    method: 'POST' | 'GET'
    headers: Record<string, string>
    body?: string | URLSearchParams
  },
): Promise<Answer> {
  try {
    const response = await (config.fetch ?? globalThis.fetch)(url, {
      ...init,
      redirect: 'error',
      signal: AbortSignal.timeout(5000),
    })
    return { status: response.status, body: parseJson(await response.text()) }
  } catch {
    return { status: 0, body: { error: 'unreachable' } }
  }
}

/** `401 invalid_token`, or `HTTP 0` when nothing answered. */
export function txnErrorOf(answer: Answer): string {
  const error = typeof answer.body.error === 'string' ? answer.body.error : `HTTP ${answer.status}`
  return `${answer.status} ${error}`
}

/** True when a workload acted on the call: any 2xx. */
export function served(answer: Answer): boolean {
  return answer.status >= 200 && answer.status < 300
}

/** A call to a workload carrying `token` in `Txn-Token` (or, wrongly, as a bearer token). */
export async function callWithTxnToken(
  config: TxnLabConfig,
  label: string,
  url: string,
  token: string,
  as: 'txn-token' | 'bearer' = 'txn-token',
): Promise<{ step: AttemptStep; answer: Answer }> {
  const header = as === 'txn-token' ? 'txn-token' : 'authorization'
  const value = as === 'txn-token' ? token : `Bearer ${token}`
  const method = as === 'bearer' ? 'GET' : 'POST'
  const answer = await send(config, url, {
    method,
    headers: {
      [header]: value,
      accept: 'application/json',
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    },
    ...(method === 'POST'
      ? { body: JSON.stringify({ action: 'attack', detail: 'txn-token lab' }) }
      : {}),
  })
  const shown = as === 'txn-token' ? describeToken(token) : `Bearer ${describeToken(token)}`
  return {
    answer,
    step: {
      label,
      request: { method, url, headers: { [header]: shown } },
      response: { status: answer.status, body: answer.body },
      tokens: [
        { label: as === 'txn-token' ? 'txn token' : 'bearer token', claims: decodeClaims(token) },
      ],
    },
  }
}

/** A Txn-Token Request with App A's credentials (a client the service knows, not a workload). */
export async function requestTxnToken(
  config: TxnLabConfig,
  label: string,
  subjectToken: string,
  subjectTokenType: string,
  scope: string,
): Promise<{ step: AttemptStep; answer: Answer }> {
  const form = {
    grant_type: TOKEN_EXCHANGE_GRANT,
    requested_token_type: TXN_TOKEN_TYPE,
    audience: config.trustDomain,
    scope,
    subject_token: subjectToken,
    subject_token_type: subjectTokenType,
  }
  const answer = await send(config, config.tokenEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      authorization: basicAuthorization(config.clientId, config.clientSecret),
    },
    body: new URLSearchParams(form),
  })
  return {
    answer,
    step: tokenRequestStep(label, config.tokenEndpoint, form, config.clientId, answer),
  }
}
