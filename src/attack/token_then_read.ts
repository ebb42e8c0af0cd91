/**
 * The two moves most attempts are made of: get a token (an RFC 8693 exchange, or the federation
 * path's client_credentials + client_assertion), then read the todos in App B with whatever came
 * back; each request recorded as a step. Plus the verdict shared by the forged-subject attempts.
 */
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../client/token_exchange_client.js'
import { callService, federationForm, requestToken } from '../demo/paths/index.js'
import { serviceStep, tokenRequestStep, type Answer } from './record.js'
import type { AttemptOutcome, AttemptStep, LabContext } from './types.js'

/** What a move did: its steps, the token endpoint's answer and, if a token came, App B's. */
export interface TokenThenRead {
  readonly steps: AttemptStep[]
  readonly answer: Answer
  /** True when the token endpoint issued a token. */
  readonly issued?: boolean
  readonly served?: Answer & { readonly user?: string; readonly count?: number }
}

/** `400 invalid_request`, or `502 HTTP 502` when the answer carries no OAuth error. */
export function errorOf(answer: Answer): string {
  const error = typeof answer.body.error === 'string' ? answer.body.error : `HTTP ${answer.status}`
  return `${answer.status} ${error}`
}

function exchangeForm(ctx: LabContext, subjectToken: string, audience = ctx.config.audience) {
  return {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    audience,
    scope: ctx.config.scope,
  }
}

/** Exchange (with App A's secret unless `authenticate: false`), then read the todos. */
export async function exchangeThenRead(
  ctx: LabContext,
  label: string,
  subjectToken: string,
  options: { audience?: string; authenticate?: boolean; headers?: Record<string, string> } = {},
): Promise<TokenThenRead> {
  const authenticate = options.authenticate ?? true
  const form = exchangeForm(ctx, subjectToken, options.audience)
  const answer = await requestToken(ctx.target, form, authenticate)
  const steps = [
    tokenRequestStep(
      label,
      ctx.tokenEndpoint,
      form,
      authenticate ? ctx.config.clientId : undefined,
      answer,
    ),
  ]
  const token = answer.body.access_token
  if (answer.status !== 200 || typeof token !== 'string') return { steps, answer }
  const call = await callService(ctx.target, '/api/todos', token, options.headers ?? {})
  steps.push(
    serviceStep(
      'read the todos with the issued token',
      ctx.target,
      '/api/todos',
      token,
      options.headers ?? {},
      call,
    ),
  )
  return {
    steps,
    answer,
    issued: true,
    served: { user: call.user, status: call.status, body: call.body },
  }
}

/** The federation path with `assertion` as client_assertion (no client secret), then read. */
export async function federationThenRead(
  ctx: LabContext,
  label: string,
  assertion: string,
): Promise<TokenThenRead> {
  const form = federationForm(ctx.target, assertion)
  const answer = await requestToken(ctx.target, form, false)
  const steps = [tokenRequestStep(label, ctx.tokenEndpoint, form, undefined, answer)]
  const token = answer.body.access_token
  if (answer.status !== 200 || typeof token !== 'string') return { steps, answer }
  const call = await callService(ctx.target, '/api/todos', token)
  steps.push(
    serviceStep(
      'read the todos with the re-issued token',
      ctx.target,
      '/api/todos',
      token,
      {},
      call,
    ),
  )
  return {
    steps,
    answer,
    issued: true,
    served: { user: call.user, status: call.status, body: call.body, count: call.count },
  }
}

/**
 * The verdict for a token that should never have been issued: BLOCKED when `refusedBy` refused
 * it, LEAKED when a token came back (whether or not App B then served the victim).
 */
export function refusedOrServed(
  ctx: LabContext,
  run: TokenThenRead,
  refusedBy: string,
): AttemptOutcome {
  if (!run.served) {
    return {
      steps: run.steps,
      verdict: 'BLOCKED',
      reason: `${refusedBy} refused it: ${errorOf(run.answer)}${typeof run.answer.body.error_description === 'string' ? ` (${run.answer.body.error_description})` : ''}`,
    }
  }
  if (run.served.status === 200 && run.served.user === ctx.config.victim.sub) {
    return {
      steps: run.steps,
      verdict: 'LEAKED',
      reachedUser: run.served.user,
      reason: `a token was issued and App B served ${ctx.config.victim.username}'s todos`,
    }
  }
  return {
    steps: run.steps,
    verdict: run.issued ? 'LEAKED' : 'BLOCKED',
    ...(run.served.user ? { reachedUser: run.served.user } : {}),
    reason: `the IdP issued a token it should not have (App B answered ${run.served.status})`,
  }
}
