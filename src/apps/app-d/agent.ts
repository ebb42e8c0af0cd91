/**
 * App D, "Assistant": an agent that adds and completes todos in App B for a user who delegated to
 * it. Real OAuth throughout, no shortcut:
 *
 * 1. Sign-in: the Device Authorization Grant (RFC 8628). The agent has no browser; it shows a URL
 *    and a code, the user opens it anywhere, signs in at the IdP and consents to the delegation
 *    ("Assistant may act for you at App B: todos:read, todos:write, until …"). The agent polls the
 *    token endpoint and keeps the user's refresh token (state.ts, 0600), nothing else.
 * 2. Every call: a fresh user access token (refresh grant; `aud` = app-d,
 *    `may_act: { sub: app-d }`), the agent's own token (client_credentials), then RFC 8693 with
 *    `subject_token` = the user's and `actor_token` = its own, `audience` = app-b. App B sees
 *    `sub` = user, `act.sub` = app-d and records it with the todo. Nothing is cached between
 *    commands, so a revoked delegation stops the very next one.
 *
 * Errors are `AgentError` with a `code` and the OAuth `error` the IdP or App B answered.
 *
 * @example
 * ```ts
 * const agent = createAgent({ issuer, clientId: 'app-d', clientSecret, appBUrl, stateDir })
 * const login = await agent.startLogin()
 * console.log(login.verificationUriComplete)
 * await agent.completeLogin(login)
 * await agent.addTodo('water the plants')
 * ```
 */
import { randomUUID } from 'node:crypto'
import { decodeJwt } from 'jose'
import { z } from 'zod'
import {
  basicAuthorization,
  createTokenExchangeClient,
  TokenExchangeError,
} from '../../client/token_exchange_client.js'
import { fetchJson } from '../../client/fetch_json.js'
import { systemClock, type Clock } from '../../time/clock.js'
import { openAgentState, type AgentState, type AgentStateStore } from './state.js'

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
/** What the agent asks the user for: sign-in, refresh, and the delegated todo scopes. */
export const AGENT_SCOPE = 'openid offline_access todos:read todos:write'
/** What its tokens for App B carry. */
const APP_B_SCOPE = 'todos:read todos:write'

export type AgentErrorCode =
  | 'not_signed_in'
  | 'login_failed'
  | 'delegation_ended'
  | 'exchange_refused'
  | 'app_b_refused'
  | 'unreachable'

export class AgentError extends Error {
  static readonly code = 'ERR_AGENT'
  readonly code = AgentError.code
  override name = 'AgentError'
  constructor(
    readonly reason: AgentErrorCode,
    message: string,
    /** The OAuth `error` (or App B's) behind it, when there was an answer. */
    readonly error?: string,
    readonly statusCode?: number,
  ) {
    super(message)
  }
}

export interface AgentOptions {
  readonly issuer: string
  readonly clientId: string
  readonly clientSecret: string
  /** App B's origin. */
  readonly appBUrl: string
  /** The audience of App B at the IdP (its client_id). */
  readonly appBAudience: string
  readonly stateDir: string
  readonly fetch?: typeof fetch
  readonly now?: Clock
  /** Per request, default 10000. */
  readonly timeoutMs?: number
}

export interface DeviceLogin {
  readonly deviceCode: string
  readonly userCode: string
  readonly verificationUri: string
  readonly verificationUriComplete: string
  /** Seconds between polls (RFC 8628 §3.5: +5 on slow_down). */
  readonly interval: number
  readonly expiresAt: number
}

export interface AgentTodo {
  readonly id: number
  readonly title: string
  readonly completed: boolean
  readonly addedBy: string | null
  readonly completedBy: string | null
}

/** What App B answered, with the claims of the token the agent used (for `agent status`). */
export interface AgentCall<T> {
  readonly value: T
  readonly token: { sub: unknown; aud: unknown; scope: unknown; act: unknown }
}

const metadataSchema = z.object({
  token_endpoint: z.string().url(),
  device_authorization_endpoint: z.string().url(),
})
const deviceSchema = z.object({
  device_code: z.string().min(1),
  user_code: z.string().min(1),
  verification_uri: z.string().url(),
  verification_uri_complete: z.string().url(),
  expires_in: z.number().int().positive(),
  interval: z.number().int().positive().optional(),
})
const tokenSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  id_token: z.string().optional(),
})
const oauthErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() })
const todoSchema = z.object({
  id: z.number().int(),
  title: z.string(),
  completed: z.boolean(),
  addedBy: z.string().nullable(),
  completedBy: z.string().nullable(),
})

export interface Agent {
  readonly state: AgentStateStore
  startLogin(): Promise<DeviceLogin>
  /** Polls until the user consented (resolves with the stored state) or refused / timed out. */
  completeLogin(login: DeviceLogin, options?: { signal?: AbortSignal }): Promise<AgentState>
  /** An App B token naming the user (`sub`) and the agent (`act.sub`), exchanged now. */
  appBToken(): Promise<string>
  listTodos(): Promise<AgentCall<AgentTodo[]>>
  addTodo(title: string): Promise<AgentCall<AgentTodo>>
  completeTodo(id: number): Promise<AgentCall<AgentTodo>>
  /** Forgets the refresh token (the delegation itself is revoked on the IdP's account page). */
  logout(): void
}

export function createAgent(options: AgentOptions): Agent {
  const fetchImpl = options.fetch ?? globalThis.fetch
  const timeoutMs = options.timeoutMs ?? 10_000
  const now = () => Math.floor((options.now ?? systemClock)())
  const issuer = options.issuer.replace(/\/+$/, '')
  const appBUrl = options.appBUrl.replace(/\/+$/, '')
  const authorization = basicAuthorization(options.clientId, options.clientSecret)
  const state = openAgentState(options.stateDir)

  let metadata: Promise<z.infer<typeof metadataSchema>> | undefined
  function discover() {
    metadata ??= (async () => {
      const answer = await fetchJson(
        fetchImpl,
        `${issuer}/.well-known/openid-configuration`,
        { headers: { accept: 'application/json' } },
        timeoutMs,
      )
      if (!answer.reached)
        throw new AgentError('unreachable', `the IdP at ${issuer} is not reachable`)
      const parsed = metadataSchema.safeParse(answer.json)
      if (!parsed.success) {
        throw new AgentError('unreachable', `${issuer} publishes no device authorization endpoint`)
      }
      return parsed.data
    })().catch((error: unknown) => {
      metadata = undefined
      throw error
    })
    return metadata
  }

  /** A form POST to the IdP with the agent's client authentication. */
  async function post(url: string, form: Record<string, string>) {
    const answer = await fetchJson(
      fetchImpl,
      url,
      {
        method: 'POST',
        headers: {
          authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams(form),
      },
      timeoutMs,
    )
    if (!answer.reached)
      throw new AgentError('unreachable', `the IdP at ${issuer} is not reachable`)
    return answer
  }

  function oauthError(json: unknown) {
    const parsed = oauthErrorSchema.safeParse(json)
    return parsed.success
      ? parsed.data
      : { error: 'invalid_response', error_description: undefined }
  }

  async function userAccessToken(): Promise<string> {
    const current = state.read()
    if (!current) {
      throw new AgentError('not_signed_in', 'no delegation: run `onbehalf agent login` first')
    }
    const { token_endpoint } = await discover()
    const answer = await post(token_endpoint, {
      grant_type: 'refresh_token',
      refresh_token: current.refreshToken,
    })
    if (!answer.response.ok) {
      const { error } = oauthError(answer.json)
      if (error === 'invalid_grant') {
        // Revoked or expired: the refresh token is worthless now, forget it.
        state.clear()
        throw new AgentError(
          'delegation_ended',
          'the delegation was revoked or has expired: run `onbehalf agent login` to ask again',
          error,
          answer.response.status,
        )
      }
      throw new AgentError(
        'exchange_refused',
        `refresh refused: ${error}`,
        error,
        answer.response.status,
      )
    }
    const tokens = tokenSchema.parse(answer.json)
    // oidc-provider may rotate the refresh token: keep the newest.
    if (tokens.refresh_token && tokens.refresh_token !== current.refreshToken) {
      state.write({ ...current, refreshToken: tokens.refresh_token })
    }
    return tokens.access_token
  }

  /** The agent's own token: `sub` = its client_id, the `actor_token` of every exchange. */
  async function actorToken(): Promise<string> {
    const { token_endpoint } = await discover()
    const answer = await post(token_endpoint, { grant_type: 'client_credentials' })
    if (!answer.response.ok) {
      const { error } = oauthError(answer.json)
      throw new AgentError(
        'exchange_refused',
        `own token refused: ${error}`,
        error,
        answer.response.status,
      )
    }
    return tokenSchema.parse(answer.json).access_token
  }

  const exchanger = createTokenExchangeClient({
    tokenEndpoint: async () => (await discover()).token_endpoint,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    fetch: fetchImpl,
    timeoutMs,
  })

  async function appBToken(): Promise<string> {
    const [subjectToken, actor] = await Promise.all([userAccessToken(), actorToken()])
    try {
      const result = await exchanger.exchange({
        subjectToken,
        actorToken: actor,
        audience: options.appBAudience,
        scope: APP_B_SCOPE,
      })
      return result.accessToken
    } catch (error) {
      if (error instanceof TokenExchangeError) {
        throw new AgentError(
          'exchange_refused',
          `the IdP refused the exchange: ${error.error}`,
          error.error,
          error.statusCode,
        )
      }
      throw error
    }
  }

  async function callAppB(
    path: string,
    init: { method: 'GET' | 'POST'; body?: unknown; idempotencyKey?: string },
  ) {
    const token = await appBToken()
    const answer = await fetchJson(
      fetchImpl,
      `${appBUrl}${path}`,
      {
        method: init.method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(init.idempotencyKey ? { 'idempotency-key': init.idempotencyKey } : {}),
        },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      },
      timeoutMs,
    )
    if (!answer.reached) throw new AgentError('unreachable', `App B at ${appBUrl} is not reachable`)
    if (!answer.response.ok) {
      const { error, error_description } = oauthError(answer.json)
      throw new AgentError(
        'app_b_refused',
        `App B answered ${answer.response.status} ${error}${error_description ? `: ${error_description}` : ''}`,
        error,
        answer.response.status,
      )
    }
    const claims = decodeJwt(token)
    return {
      json: answer.json as Record<string, unknown>,
      token: { sub: claims.sub, aud: claims.aud, scope: claims.scope, act: claims.act },
    }
  }

  return Object.freeze({
    state,
    async startLogin() {
      const { device_authorization_endpoint } = await discover()
      const answer = await post(device_authorization_endpoint, { scope: AGENT_SCOPE })
      if (!answer.response.ok) {
        const { error } = oauthError(answer.json)
        throw new AgentError('login_failed', `device authorization refused: ${error}`, error)
      }
      const device = deviceSchema.parse(answer.json)
      return Object.freeze({
        deviceCode: device.device_code,
        userCode: device.user_code,
        verificationUri: device.verification_uri,
        verificationUriComplete: device.verification_uri_complete,
        interval: device.interval ?? 5,
        expiresAt: now() + device.expires_in,
      })
    },
    async completeLogin(login: DeviceLogin, { signal }: { signal?: AbortSignal } = {}) {
      const { token_endpoint } = await discover()
      let interval = login.interval
      for (;;) {
        if (signal?.aborted) throw new AgentError('login_failed', 'sign-in cancelled')
        if (now() > login.expiresAt)
          throw new AgentError('login_failed', 'the code expired', 'expired_token')
        const answer = await post(token_endpoint, {
          grant_type: DEVICE_CODE_GRANT,
          device_code: login.deviceCode,
        })
        if (answer.response.ok) {
          const tokens = tokenSchema.parse(answer.json)
          if (!tokens.refresh_token) {
            throw new AgentError('login_failed', 'the IdP issued no refresh token (offline_access)')
          }
          const sub = decodeJwt(tokens.access_token).sub
          if (typeof sub !== 'string')
            throw new AgentError('login_failed', 'the user token names no sub')
          const saved: AgentState = {
            version: 1,
            issuer,
            clientId: options.clientId,
            sub,
            refreshToken: tokens.refresh_token,
            since: now(),
          }
          state.write(saved)
          return saved
        }
        const { error } = oauthError(answer.json)
        if (error === 'slow_down') interval += 5
        else if (error !== 'authorization_pending') {
          throw new AgentError(
            'login_failed',
            `sign-in refused: ${error}`,
            error,
            answer.response.status,
          )
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, interval * 1000)
          signal?.addEventListener('abort', () => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
    },
    appBToken,
    async listTodos() {
      const { json, token } = await callAppB('/api/todos', { method: 'GET' })
      return { value: z.array(todoSchema).parse(json.todos), token }
    },
    async addTodo(title: string) {
      const { json, token } = await callAppB('/api/todos', {
        method: 'POST',
        body: { title },
        // A retried add never duplicates the todo (App B's idempotency keys).
        idempotencyKey: randomUUID(),
      })
      return { value: todoSchema.parse(json.todo), token }
    },
    async completeTodo(id: number) {
      const { json, token } = await callAppB(`/api/todos/${id}/complete`, { method: 'POST' })
      return { value: todoSchema.parse(json.todo), token }
    },
    logout() {
      state.clear()
    },
  })
}

/**
 * One scheduled round of the agent (`onbehalf agent run`): completes the todos the user handed to
 * it (titles starting with `@assistant`), and adds `task` unless an open todo with that title
 * exists. Resolves with what it did.
 */
export async function runAgentRound(
  agent: Agent,
  options: { task?: string; handOffPrefix?: string } = {},
): Promise<{ added: AgentTodo[]; completed: AgentTodo[] }> {
  const prefix = (options.handOffPrefix ?? '@assistant').toLowerCase()
  const { value: todos } = await agent.listTodos()
  const completed: AgentTodo[] = []
  for (const todo of todos) {
    if (!todo.completed && todo.title.toLowerCase().startsWith(prefix)) {
      completed.push((await agent.completeTodo(todo.id)).value)
    }
  }
  const added: AgentTodo[] = []
  const task = options.task?.trim()
  if (task && !todos.some((todo) => !todo.completed && todo.title === task)) {
    added.push((await agent.addTodo(task)).value)
  }
  return { added, completed }
}
