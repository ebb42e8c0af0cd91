/**
 * App B's link to App C, the third hop of A → B → C: for every call, App B exchanges the user's
 * token it holds (the user's own App B login token, or the token App A obtained for App B) for a
 * token addressed to App C (RFC 8693 §2.1, App B's own client credentials), then calls App C's
 * activity API with it. The IdP keeps the `act` chain: a token that named App A in `act` comes back
 * with `act = { sub: app-b, act: { sub: app-a } }` (§4.1).
 *
 * Every fault is returned as data naming the hop that failed (`exchange` or `app-c`), so callers
 * can carry on: a todo change never waits on the activity log, and App A can draw where the chain
 * stopped. Tokens are never logged or returned; only decoded claims are.
 *
 * @example
 * const link = createAppCLink({ exchanger, cache, audience: 'app-c', baseUrl: env.APP_C_URL })
 * const result = await link.record(userAccessToken, { action: 'todo.added', detail: 'Buy milk' })
 * if (!result.ok) request.log.warn({ failure: result.failure }, 'activity not recorded')
 */
import { z } from 'zod'
import {
  ExchangedTokenCache,
  TokenExchangeError,
  type TokenExchangeClient,
} from '../../client/index.js'
import { fetchJson, type JsonAnswer } from '../../client/fetch_json.js'
import { ACTIVITY_READ_SCOPE, ACTIVITY_WRITE_SCOPE } from '../app-c/service_api.js'

export { ACTIVITY_READ_SCOPE, ACTIVITY_WRITE_SCOPE }

/** Where the chain stopped: at the exchange for App C's token, or at App C itself. */
export type AppCFailure =
  | {
      /** `exchange`: the second RFC 8693 exchange; `txn-token`: the Txn-Token Request. */
      readonly hop: 'exchange' | 'txn-token'
      readonly error: string
      readonly description?: string
      readonly status?: number
    }
  | {
      readonly hop: 'app-c'
      readonly kind: 'unreachable' | 'http' | 'invalid_response'
      readonly status?: number
      readonly error?: string
      readonly description?: string
    }

/** What App B knows of the token it obtained for App C (decoded claims, never the token). */
export interface ExchangedForAppC {
  readonly claims: Record<string, unknown> | undefined
  readonly scope: string | undefined
  readonly fromCache: boolean
}

export type AppCResult<T> =
  | { readonly ok: true; readonly value: T; readonly exchanged: ExchangedForAppC }
  | { readonly ok: false; readonly failure: AppCFailure; readonly exchanged?: ExchangedForAppC }

const entrySchema = z.object({
  id: z.number().int(),
  action: z.string(),
  detail: z.string(),
  recordedBy: z.string(),
  actorChain: z.array(z.string()),
  /** Present on entries App C recorded from a txn token. */
  txn: z.string().nullable().optional(),
  at: z.string(),
})

const seenSchema = z.record(z.string(), z.unknown())

export const recordedSchema = z.object({
  entry: entrySchema,
  user: z.string(),
  caller: z.string(),
  actorChain: z.array(z.string()),
  seen: seenSchema,
})
export type RecordedActivity = z.infer<typeof recordedSchema>

export const activityPageSchema = z.object({
  entries: z.array(entrySchema),
  user: z.string(),
  caller: z.string(),
  actorChain: z.array(z.string()),
  seen: seenSchema,
})
export type ActivityPage = z.infer<typeof activityPageSchema>

export const oauthErrorSchema = z.object({
  error: z.string().max(200),
  error_description: z.string().max(1000).optional(),
})

export interface AppCLinkOptions {
  /** App B's exchange client (App B's credentials). */
  readonly exchanger: TokenExchangeClient
  /** The exchanger's cache, so a token App C refused is not served again. */
  readonly cache?: ExchangedTokenCache
  /** App C's audience at the IdP (`APP_C_CLIENT_ID`). */
  readonly audience: string
  /** App C's base URL (`APP_C_URL`). */
  readonly baseUrl: string
  /** The `scope` to request, in the IdP's terms (Keycloak adds an audience scope). */
  readonly scopeFor?: (scope: string) => string
  readonly fetch?: typeof fetch
  /** Per call to App C. Default 5000. */
  readonly timeoutMs?: number
}

export interface AppCLink {
  /** Records an activity for the subject token's user (`activity:write`). */
  record(
    subjectToken: string,
    activity: { action: string; detail: string },
  ): Promise<AppCResult<RecordedActivity>>
  /** The user's recent activity and the claims App C verified (`activity:read`). */
  read(subjectToken: string): Promise<AppCResult<ActivityPage>>
}

export function createAppCLink(options: AppCLinkOptions): AppCLink {
  const { exchanger, cache, audience } = options
  if (!audience) throw new TypeError('"audience" is required')
  const baseUrl = new URL(options.baseUrl).href.replace(/\/+$/, '')
  const fetchImpl = options.fetch ?? globalThis.fetch
  const timeoutMs = options.timeoutMs ?? 5000
  const scopeFor = options.scopeFor ?? ((scope: string) => scope)

  async function call<T>(
    subjectToken: string,
    requiredScope: string,
    request: { method: 'GET' | 'POST'; body?: unknown },
    schema: z.ZodType<T>,
  ): Promise<AppCResult<T>> {
    const scope = scopeFor(requiredScope)
    let accessToken: string
    let exchanged: ExchangedForAppC
    try {
      const result = await exchanger.exchange({ subjectToken, audience, scope })
      accessToken = result.accessToken
      exchanged = { claims: result.claims, scope: result.scope, fromCache: result.fromCache }
    } catch (error) {
      if (!(error instanceof TokenExchangeError)) throw error
      return {
        ok: false,
        failure: {
          hop: 'exchange',
          error: error.error,
          ...(error.description ? { description: error.description } : {}),
          ...(error.statusCode !== undefined ? { status: error.statusCode } : {}),
        },
      }
    }

    const answer = await fetchJson(
      fetchImpl,
      `${baseUrl}/api/activity`,
      {
        method: request.method,
        headers: {
          authorization: `Bearer ${accessToken}`,
          accept: 'application/json',
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      },
      timeoutMs,
    )
    // App C no longer accepts this token (keys rotated, revoked): exchange afresh next time.
    if (answer.reached && answer.response.status === 401)
      cache?.delete(ExchangedTokenCache.key(subjectToken, audience, scope))
    return readAppCAnswer(answer, schema, exchanged)
  }

  return {
    record: (subjectToken, activity) =>
      call(subjectToken, ACTIVITY_WRITE_SCOPE, { method: 'POST', body: activity }, recordedSchema),
    read: (subjectToken) =>
      call(subjectToken, ACTIVITY_READ_SCOPE, { method: 'GET' }, activityPageSchema),
  }
}

/** One line for a log or a notice: which hop failed and how (no token, no secret). */
/**
 * App C's answer as a result, the same for every way App B reaches App C (exchanged token or txn
 * token): unreachable, an HTTP error with App C's OAuth error, a body of the wrong shape, or the
 * value.
 */
export function readAppCAnswer<T>(
  answer: JsonAnswer,
  schema: z.ZodType<T>,
  exchanged: ExchangedForAppC,
): AppCResult<T> {
  const failed = (failure: AppCFailure): AppCResult<T> => ({ ok: false, failure, exchanged })
  if (!answer.reached) return failed({ hop: 'app-c', kind: 'unreachable' })
  const { response, json } = answer
  if (!response.ok) {
    const body = oauthErrorSchema.safeParse(json)
    return failed({
      hop: 'app-c',
      kind: 'http',
      status: response.status,
      ...(body.success ? { error: body.data.error } : {}),
      ...(body.success && body.data.error_description
        ? { description: body.data.error_description }
        : {}),
    })
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success)
    return failed({ hop: 'app-c', kind: 'invalid_response', status: response.status })
  return { ok: true, value: parsed.data, exchanged }
}

export function describeAppCFailure(failure: AppCFailure): string {
  if (failure.hop !== 'app-c') {
    const what =
      failure.hop === 'txn-token'
        ? "the Txn-Token Service refused App B's txn token"
        : "the exchange for App C's token was refused"
    return `${what}: ${failure.error}${failure.description ? ` (${failure.description})` : ''}`
  }
  switch (failure.kind) {
    case 'unreachable':
      return 'App C cannot be reached'
    case 'invalid_response':
      return `App C answered HTTP ${failure.status} with something unexpected`
    case 'http':
      return `App C refused the call: HTTP ${failure.status}${failure.error ? ` ${failure.error}` : ''}`
  }
}
