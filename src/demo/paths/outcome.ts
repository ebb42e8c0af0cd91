/**
 * How every path ends, once it has (or has not) got a token: the token request recorded, the
 * service called with the new token, the verdicts computed and the `PathResult` built. Each
 * strategy only says how it gets its token and what it shows.
 */
import { callService, type TokenAnswer } from './http.js'
import type { DecodedToken, PathResult, PathTarget, TokenRequestRecord } from './types.js'
import { computeVerdicts } from './verdicts.js'

/** What names a path in its result (`RFC8693_PATH`, `M2M_HEADER_PATH`, …). */
export type PathDescriptor = Pick<PathResult, 'id' | 'title' | 'pattern' | 'badge' | 'grantType'>

/** The token request as sent (parameter names, never values) and the IdP's answer to it. */
export function tokenRequestRecord(
  request: Pick<TokenRequestRecord, 'grantType' | 'clientAuth'>,
  form: Record<string, string>,
  answer: TokenAnswer,
): TokenRequestRecord {
  return {
    ...request,
    parameters: Object.keys(form),
    status: answer.status,
    ...(typeof answer.body.error === 'string' ? { error: answer.body.error } : {}),
    ...(typeof answer.body.error_description === 'string'
      ? { description: answer.body.error_description }
      : {}),
  }
}

interface PathRun {
  /** `performance.now()` when the path started. */
  readonly started: number
  /** The tokens to show so far. */
  readonly tokens: readonly DecodedToken[]
  readonly tokenRequest: TokenRequestRecord
}

/** A path that stopped at the token request. */
export function tokenFailure(path: PathDescriptor, run: PathRun, message: string): PathResult {
  return {
    ...path,
    tokens: run.tokens,
    ok: false,
    tokenRequest: run.tokenRequest,
    error: { stage: 'token', message },
    durationMs: performance.now() - run.started,
  }
}

/**
 * Calls the service's `/api/todos/count` with the path's token (and `extraHeaders`) and builds the
 * result: `tokens` are all the tokens to show, `issued` the new token's claims.
 */
export async function callServiceAndConclude(
  target: PathTarget,
  path: PathDescriptor,
  run: PathRun & {
    readonly accessToken: string
    readonly issued: Record<string, unknown>
    readonly userSub: string | undefined
    readonly extraHeaders?: Record<string, string>
  },
): Promise<PathResult> {
  const { body: _body, ...serviceCall } = await callService(
    target,
    '/api/todos/count',
    run.accessToken,
    run.extraHeaders,
  )
  const ok = serviceCall.status === 200
  return {
    ...path,
    tokens: run.tokens,
    ok,
    tokenRequest: run.tokenRequest,
    serviceCall,
    verdicts: computeVerdicts({
      issued: run.issued,
      userSub: run.userSub,
      actor: target.clientId,
      request: run.tokenRequest,
    }),
    ...(ok
      ? {}
      : {
          error: {
            stage: 'service' as const,
            message: `App B answered ${serviceCall.status} ${serviceCall.error ?? ''}`.trim(),
          },
        }),
    durationMs: performance.now() - run.started,
  }
}
