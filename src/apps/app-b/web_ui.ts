/**
 * App B's web UI: the signed-in user's own todo list (list, add, complete, delete). Built on the
 * shared web kit (`src/web/`): sessions, CSRF on every form post, helmet, OIDC sign-in. The owner of
 * every todo touched is `request.user.sub` from the session, never a form field.
 *
 * Every change (add, complete/reopen, delete) is also recorded in App C's activity log on the
 * user's behalf: App B exchanges the user's App B access token for one addressed to App C
 * (`activity:write`). The todo change never depends on it: a failure is logged and shown as a small
 * notice on the next page.
 *
 * Register it encapsulated (`app.register(webUi, …)`): the web kit's hooks stay in this context.
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Env } from '../../config/env.js'
import { issuerForClient, type IdpKind } from '../../idp_profiles/index.js'
import {
  html,
  registerOidcLogin,
  registerWebBasics,
  renderPage,
  sendHtml,
  type SessionUser,
} from '../../web/index.js'
import { UserTokenError } from '../../web/oidc_login.js'
import { sessionStoreFromEnv } from '../../web/redis_session_store.js'
import { raw } from '../../web/html.js'
import { ACTIVITY_WRITE_SCOPE, describeAppCFailure, type AppCLink } from './app_c_link.js'
import {
  IdempotencyKeyReusedError,
  MAX_TITLE_LENGTH,
  TodoValidationError,
  type Todo,
  type TodoStore,
} from './todo_store.js'

export interface WebUiOptions {
  readonly env: Env
  readonly store: TodoStore
  /** Where todo changes are recorded (App C); without it nothing is recorded. */
  readonly appC?: AppCLink
}

const APP_NAME = 'App B'
const ACCENT = 'violet'
export const APP_B_COOKIE_NAME = 'onbehalf_app_b_sid'
/** `activity:write` rides in App B's login token so App B can exchange it for App C's token. */
export const APP_B_LOGIN_SCOPE = `openid profile email ${ACTIVITY_WRITE_SCOPE}`
/** Session key of the one-shot notice that App C did not record the last change. */
const ACTIVITY_NOTICE_KEY = 'activityNotice'

/**
 * The scope App B asks for at sign-in. `activity:write` is defined by onbehalf's own policy
 * (config/policy.json); Keycloak refuses scopes it does not know, so other IdPs are not asked.
 */
export function appBLoginScope(kind: IdpKind): string {
  return kind === 'embedded' ? APP_B_LOGIN_SCOPE : 'openid profile email'
}

/** "added by Assistant on your behalf" / "completed by Assistant": the acting service of the write. */
function provenance(todo: Todo, names: Readonly<Record<string, string>>) {
  const name = (actor: string) => names[actor] ?? actor
  const parts = [
    ...(todo.addedBy === null ? [] : [`added by ${name(todo.addedBy)} on your behalf`]),
    ...(todo.completedBy === null ? [] : [`completed by ${name(todo.completedBy)}`]),
  ]
  return parts.length === 0
    ? raw('')
    : html`<small class="todo-provenance" data-testid="todo-provenance"
        >${parts.join(' · ')}</small
      >`
}

function todoItem(todo: Todo, csrfToken: string, names: Readonly<Record<string, string>>) {
  return html`<li
    class="todo-item${todo.completed ? ' done' : ''}"
    data-testid="todo-item"
    data-todo-id="${todo.id}"
    data-completed="${String(todo.completed)}"
  >
    <form method="post" action="/todos/${todo.id}/toggle" class="inline-form">
      <input type="hidden" name="_csrf" value="${csrfToken}" />
      <input type="hidden" name="completed" value="${String(!todo.completed)}" />
      <button
        type="submit"
        class="todo-toggle"
        data-testid="toggle-todo"
        title="${todo.completed ? 'Mark as open' : 'Mark as done'}"
      >
        <span class="todo-check" aria-hidden="true"></span
        ><span class="visually-hidden">${todo.completed ? 'Reopen' : 'Complete'}</span>
      </button>
    </form>
    <span class="todo-title" data-testid="todo-title"
      >${todo.completed ? html`<s>${todo.title}</s>` : todo.title}</span
    >
    ${provenance(todo, names)}
    <form method="post" action="/todos/${todo.id}/delete" class="inline-form todo-delete">
      <input type="hidden" name="_csrf" value="${csrfToken}" />
      <button type="submit" class="button button-ghost button-small" data-testid="delete-todo">
        Delete
      </button>
    </form>
  </li>`
}

async function todoPage(
  store: TodoStore,
  names: Readonly<Record<string, string>>,
  user: SessionUser,
  csrfToken: string,
  problem?: string,
  notice?: string,
) {
  const todos = await store.list(user.sub)
  const open = todos.filter((t) => !t.completed).length
  return renderPage({
    appName: APP_NAME,
    accent: ACCENT,
    title: 'My todos',
    user,
    csrfToken,
    body: html`<section class="card todo-card">
      <div class="card-header">
        <h2>Your list</h2>
        <p class="todo-summary" data-testid="todo-count">${open} open of ${todos.length}</p>
      </div>
      ${
        notice &&
        html`<p class="alert alert-warning small" role="status" data-testid="activity-notice">
          Saved. The activity log (App C) did not record it: ${notice}.
        </p>`
      }
      <form method="post" action="/todos" class="todo-add">
        <input type="hidden" name="_csrf" value="${csrfToken}" />
        <input type="hidden" name="idempotencyKey" value="${randomUUID()}" />
        <label for="new-todo-title">New todo</label>
        <div class="input-row">
          <input
            id="new-todo-title"
            name="title"
            type="text"
            required
            maxlength="${MAX_TITLE_LENGTH}"
            autocomplete="off"
            placeholder="What needs doing?"
            data-testid="new-todo-title"
            ${problem ? html` aria-invalid="true" aria-describedby="form-error"` : ''}
          />
          <button type="submit" class="button" data-testid="add-todo">Add</button>
        </div>
        ${problem && html`<p class="field-error" id="form-error" role="alert" data-testid="form-error">${problem}</p>`}
      </form>
      ${
        todos.length === 0
          ? html`<div class="empty-state" data-testid="todo-empty">
              <p class="empty-state-title">Nothing to do yet.</p>
              <p class="muted small">
                Add your first todo above. App A can read this list on your behalf.
              </p>
            </div>`
          : ''
      }
      <ul class="todo-list" data-testid="todo-list">
        ${todos.map((todo) => todoItem(todo, csrfToken, names))}
      </ul>
    </section>`,
  })
}

function landingPage(csrfToken: string) {
  return renderPage({
    appName: APP_NAME,
    accent: ACCENT,
    title: 'Todos',
    user: null,
    csrfToken,
    body: html`<section class="card">
      <p>App B keeps your todo list. Sign in to see and edit it.</p>
      <p>
        Other services (App A) can read your list only with a token issued for App B on your behalf.
      </p>
      <p><a class="button" href="/auth/login" data-testid="login-button">Sign in</a></p>
    </section>`,
  })
}

/** The todo id from the route, or undefined for anything but a positive integer. */
function parseTodoId(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^[1-9][0-9]{0,15}$/.test(value)) return undefined
  const id = Number(value)
  return Number.isSafeInteger(id) ? id : undefined
}

function backToList(reply: FastifyReply): FastifyReply {
  return reply.redirect('/', 303)
}

export async function webUi(app: FastifyInstance, options: WebUiOptions): Promise<void> {
  const { env, store, appC } = options
  await registerWebBasics(app, {
    appName: APP_NAME,
    cookieName: APP_B_COOKIE_NAME,
    sessionSecret: env.APP_B_SESSION_SECRET,
    secureCookies: env.APP_B_URL.startsWith('https:'),
    formActionOrigins: [new URL(issuerForClient(env.idp, env.APP_B_CLIENT_ID)).origin],
    // REDIS_URL: sessions shared by every App B instance (no sticky sessions), kept over restarts.
    sessionStore: sessionStoreFromEnv(env, 'app-b'),
  })
  await registerOidcLogin(app, {
    issuer: issuerForClient(env.idp, env.APP_B_CLIENT_ID),
    clientId: env.APP_B_CLIENT_ID,
    clientSecret: env.APP_B_CLIENT_SECRET,
    baseUrl: env.APP_B_URL,
    scope: appBLoginScope(env.idp.kind),
  })
  const requireLogin = app.requireLogin
  const owner = (request: FastifyRequest): SessionUser => {
    // requireLogin answered the request otherwise.
    if (!request.user) throw new Error('web ui route reached without a signed-in user')
    return request.user
  }

  /**
   * Records a change that already happened in App C, on the user's behalf. Never throws: the todo
   * change stands whatever happens here; a failure is logged and left as a notice for the next page.
   */
  async function recordActivity(
    request: FastifyRequest,
    activity: { action: string; detail: string },
  ): Promise<void> {
    if (!appC) return
    let reason: string
    try {
      const result = await appC.record(await app.getUserAccessToken(request), activity)
      if (result.ok) {
        request.log.info(
          {
            action: activity.action,
            entry: result.value.entry.id,
            actorChain: result.value.actorChain,
          },
          'activity recorded in App C',
        )
        return
      }
      request.log.warn(
        { action: activity.action, appC: result.failure },
        'activity not recorded in App C',
      )
      reason = describeAppCFailure(result.failure)
    } catch (error) {
      request.log.warn({ action: activity.action, err: error }, 'activity not recorded in App C')
      reason =
        error instanceof UserTokenError
          ? 'your sign-in has no usable access token'
          : 'an unexpected error occurred'
    }
    request.session.set(ACTIVITY_NOTICE_KEY, reason)
  }

  app.get('/', async (request, reply) => {
    const csrfToken = request.session.csrfToken
    if (!request.user) return sendHtml(reply, landingPage(csrfToken))
    const notice = request.session.get<string>(ACTIVITY_NOTICE_KEY)
    if (notice !== undefined) request.session.delete(ACTIVITY_NOTICE_KEY)
    return sendHtml(
      reply,
      await todoPage(store, env.APP_B_ACTOR_NAMES, request.user, csrfToken, undefined, notice),
    )
  })

  app.post('/todos', { preHandler: requireLogin }, async (request, reply) => {
    const user = owner(request)
    const body = request.body as Record<string, unknown> | null | undefined
    // Idempotency-Key header (API clients) or the form's hidden field (one per rendered form): a
    // retried submission of a todo that was stored but not acknowledged adds nothing.
    const header = request.headers['idempotency-key']
    const idempotencyKey = typeof header === 'string' ? header : body?.idempotencyKey
    let todo: Todo
    try {
      if (idempotencyKey === undefined) {
        todo = await store.add(user.sub, body?.title as string)
      } else {
        const result = await store.addOnce(
          user.sub,
          body?.title as string,
          idempotencyKey as string,
        )
        if (result.replayed) {
          request.log.info({ todo: result.todo?.id }, 'todo creation replayed, nothing added')
          return backToList(reply)
        }
        todo = result.todo!
      }
    } catch (err) {
      if (err instanceof IdempotencyKeyReusedError) {
        return sendHtml(
          reply,
          await todoPage(
            store,
            env.APP_B_ACTOR_NAMES,
            user,
            request.session.csrfToken,
            err.message,
          ),
          422,
        )
      }
      if (!(err instanceof TodoValidationError)) throw err
      return sendHtml(
        reply,
        await todoPage(store, env.APP_B_ACTOR_NAMES, user, request.session.csrfToken, err.message),
        400,
      )
    }
    await recordActivity(request, { action: 'todo.added', detail: todo.title })
    return backToList(reply)
  })

  app.post<{ Params: { id: string } }>(
    '/todos/:id/toggle',
    { preHandler: requireLogin },
    async (request, reply) => {
      const id = parseTodoId(request.params.id)
      // The form names the state it asks for, so a retried submission changes nothing more; a
      // request without it (older pages) flips.
      const wanted = (request.body as Record<string, unknown> | null | undefined)?.completed
      const sub = owner(request).sub
      let todo: Todo | undefined
      if (id === undefined) todo = undefined
      else if (wanted === 'true' || wanted === 'false') {
        const result = await store.setCompleted(sub, id, wanted === 'true')
        todo = result?.changed ? result.todo : undefined
      } else todo = await store.toggle(sub, id)
      if (todo) {
        await recordActivity(request, {
          action: todo.completed ? 'todo.completed' : 'todo.reopened',
          detail: todo.title,
        })
      }
      return backToList(reply)
    },
  )

  app.post<{ Params: { id: string } }>(
    '/todos/:id/delete',
    { preHandler: requireLogin },
    async (request, reply) => {
      const id = parseTodoId(request.params.id)
      if (id !== undefined) {
        const sub = owner(request).sub
        const title = (await store.list(sub)).find((todo) => todo.id === id)?.title
        if (await store.delete(sub, id)) {
          await recordActivity(request, { action: 'todo.deleted', detail: title ?? `#${id}` })
        }
      }
      return backToList(reply)
    },
  )
}
