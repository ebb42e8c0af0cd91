/**
 * App A's calls to App B's service API, made with a token obtained by token exchange. Every fault
 * is returned as data (not thrown), so the dashboard can render it next to everything that worked.
 */
import { z } from 'zod'
import { fetchJson } from '../../client/fetch_json.js'
import type { DpopKey } from '../../client/dpop.js'

export type AppBFailure =
  | { kind: 'unreachable'; message: string }
  | {
      kind: 'http'
      status: number
      error?: string
      description?: string
      /** App B's `/api/activity`: the hop behind App B that failed (`exchange` or `app-c`). */
      hop?: string
    }
  | { kind: 'invalid_response'; status: number; message: string }

export type AppBResult<T> = { ok: true; value: T } | { ok: false; failure: AppBFailure }

const todoCountSchema = z.object({
  count: z.number().int().nonnegative(),
  user: z.unknown().optional(),
  decidedBy: z.unknown().optional(),
  /** Todos a service added or completed for the user, from the `act` of the token that wrote them. */
  actorWrites: z
    .array(
      z.object({
        id: z.number().int(),
        title: z.string().max(200),
        completed: z.boolean(),
        addedByName: z.string().max(64).optional(),
        completedByName: z.string().max(64).optional(),
      }),
    )
    .max(20)
    .optional(),
})
export type TodoCount = z.infer<typeof todoCountSchema>

const todoSchema = z
  .object({
    id: z.union([z.string(), z.number()]).optional(),
    title: z.string().optional(),
    text: z.string().optional(),
    done: z.boolean().optional(),
    completed: z.boolean().optional(),
  })
  .passthrough()
const todoListSchema = z.union([
  z.array(todoSchema),
  z.object({ todos: z.array(todoSchema) }).passthrough(),
])
export type Todo = z.infer<typeof todoSchema>

const oauthErrorSchema = z.object({
  error: z.string().max(200),
  error_description: z.string().max(1000).optional(),
  hop: z.string().max(20).optional(),
})

const activityEntrySchema = z.object({
  id: z.number(),
  action: z.string(),
  detail: z.string(),
  recordedBy: z.string(),
  actorChain: z.array(z.string()),
  /** The transaction, for entries App C recorded from a txn token. */
  txn: z.string().nullable().optional(),
  at: z.string(),
})
export type ActivityEntry = z.infer<typeof activityEntrySchema>

/** App B's `/api/activity`: App C's entries and the claims App C verified (decoded, no token). */
const activitySchema = z.object({
  entries: z.array(activityEntrySchema),
  seen: z.record(z.string(), z.unknown()),
  user: z.string().optional(),
  caller: z.string().optional(),
})
export type ActivityResponse = z.infer<typeof activitySchema>

/** Reads `error="…", error_description="…"` from a `WWW-Authenticate: Bearer …` header (RFC 6750 §3). */
function parseBearerChallenge(header: string | null): { error?: string; description?: string } {
  if (!header) return {}
  const error = /error="([^"]*)"/.exec(header)?.[1]
  const description = /error_description="([^"]*)"/.exec(header)?.[1]
  return { ...(error ? { error } : {}), ...(description ? { description } : {}) }
}

export interface AppBClient {
  /** `jkt`: the token is DPoP-bound to that key of App A's (sent as `DPoP`, with a proof). */
  todoCount(accessToken: string, jkt?: string): Promise<AppBResult<TodoCount>>
  listTodos(accessToken: string, jkt?: string): Promise<AppBResult<Todo[]>>
  /** The user's activity in App C, fetched by App B on the user's behalf (the chain A → B → C). */
  activity(
    accessToken: string,
    /** `txn-token`: App B reaches App C with a txn token instead of a second exchange. */
    via?: 'exchange' | 'txn-token',
  ): Promise<AppBResult<ActivityResponse>>
}

export function createAppBClient(options: {
  baseUrl: string
  fetch?: typeof fetch
  timeoutMs?: number
  /** App A's DPoP key, for tokens bound to it. */
  dpop?: DpopKey
}): AppBClient {
  const fetchImpl = options.fetch ?? globalThis.fetch
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  const timeoutMs = options.timeoutMs ?? 5000

  async function get<T>(
    path: string,
    accessToken: string,
    schema: z.ZodType<T>,
    jkt?: string,
  ): Promise<AppBResult<T>> {
    const url = `${baseUrl}${path}`
    const authorization =
      jkt !== undefined && options.dpop !== undefined
        ? await options.dpop.authorizationHeaders({ method: 'GET', url, accessToken, jkt })
        : { authorization: `Bearer ${accessToken}` }
    const answer = await fetchJson(
      fetchImpl,
      url,
      { headers: { ...authorization, accept: 'application/json' } },
      timeoutMs,
    )
    if (!answer.reached) {
      return {
        ok: false,
        failure: {
          kind: 'unreachable',
          message: answer.timedOut ? `no answer within ${timeoutMs} ms` : 'connection failed',
        },
      }
    }
    const { response, json } = answer
    if (!response.ok) {
      const body = oauthErrorSchema.safeParse(json)
      const challenge = parseBearerChallenge(response.headers.get('www-authenticate'))
      const error = body.success ? body.data.error : challenge.error
      const description = body.success ? body.data.error_description : challenge.description
      return {
        ok: false,
        failure: {
          kind: 'http',
          status: response.status,
          ...(error ? { error } : {}),
          ...(description ? { description } : {}),
          ...(body.success && body.data.hop ? { hop: body.data.hop } : {}),
        },
      }
    }
    const parsed = schema.safeParse(json)
    if (!parsed.success) {
      return {
        ok: false,
        failure: {
          kind: 'invalid_response',
          status: response.status,
          message: 'unexpected answer from App B',
        },
      }
    }
    return { ok: true, value: parsed.data }
  }

  return {
    todoCount: (accessToken, jkt) => get('/api/todos/count', accessToken, todoCountSchema, jkt),
    activity: (accessToken, via = 'exchange') =>
      get(
        via === 'txn-token' ? '/api/activity?via=txn-token' : '/api/activity',
        accessToken,
        activitySchema,
      ),
    async listTodos(accessToken, jkt) {
      const result = await get('/api/todos', accessToken, todoListSchema, jkt)
      if (!result.ok) return result
      return { ok: true, value: Array.isArray(result.value) ? result.value : result.value.todos }
    },
  }
}
