/**
 * App B's web UI: the signed-in user's own todo list (list, add, complete, delete). Built on the
 * shared web kit (`src/web/`): sessions, CSRF on every form post, helmet, OIDC sign-in. The owner of
 * every todo touched is `request.user.sub` from the session, never a form field.
 *
 * Register it encapsulated (`app.register(webUi, …)`): the web kit's hooks stay in this context.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Env } from '../../config/env.js'
import { issuerForClient } from '../../idp_profiles/index.js'
import {
  html,
  registerOidcLogin,
  registerWebBasics,
  renderPage,
  sendHtml,
  type SessionUser,
} from '../../web/index.js'
import { MAX_TITLE_LENGTH, TodoValidationError, type Todo, type TodoStore } from './todo_store.js'

export interface WebUiOptions {
  readonly env: Env
  readonly store: TodoStore
}

const APP_NAME = 'App B'
const ACCENT = 'violet'
export const APP_B_COOKIE_NAME = 'onbehalf_app_b_sid'
export const APP_B_LOGIN_SCOPE = 'openid profile email'

function todoItem(todo: Todo, csrfToken: string) {
  return html`<li
    class="todo-item${todo.completed ? ' done' : ''}"
    data-testid="todo-item"
    data-todo-id="${todo.id}"
    data-completed="${String(todo.completed)}"
  >
    <form method="post" action="/todos/${todo.id}/toggle" class="inline-form">
      <input type="hidden" name="_csrf" value="${csrfToken}" />
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
    <form method="post" action="/todos/${todo.id}/delete" class="inline-form todo-delete">
      <input type="hidden" name="_csrf" value="${csrfToken}" />
      <button type="submit" class="button button-ghost button-small" data-testid="delete-todo">
        Delete
      </button>
    </form>
  </li>`
}

function todoPage(store: TodoStore, user: SessionUser, csrfToken: string, problem?: string) {
  const todos = store.list(user.sub)
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
      <form method="post" action="/todos" class="todo-add">
        <input type="hidden" name="_csrf" value="${csrfToken}" />
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
        ${todos.map((todo) => todoItem(todo, csrfToken))}
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
  const { env, store } = options
  await registerWebBasics(app, {
    appName: APP_NAME,
    cookieName: APP_B_COOKIE_NAME,
    sessionSecret: env.APP_B_SESSION_SECRET,
    secureCookies: env.APP_B_URL.startsWith('https:'),
    formActionOrigins: [new URL(issuerForClient(env.idp, env.APP_B_CLIENT_ID)).origin],
  })
  await registerOidcLogin(app, {
    issuer: issuerForClient(env.idp, env.APP_B_CLIENT_ID),
    clientId: env.APP_B_CLIENT_ID,
    clientSecret: env.APP_B_CLIENT_SECRET,
    baseUrl: env.APP_B_URL,
    scope: APP_B_LOGIN_SCOPE,
  })
  const requireLogin = app.requireLogin
  const owner = (request: FastifyRequest): SessionUser => {
    // requireLogin answered the request otherwise.
    if (!request.user) throw new Error('web ui route reached without a signed-in user')
    return request.user
  }

  app.get('/', async (request, reply) => {
    const csrfToken = request.session.csrfToken
    const page = request.user ? todoPage(store, request.user, csrfToken) : landingPage(csrfToken)
    return sendHtml(reply, page)
  })

  app.post('/todos', { preHandler: requireLogin }, async (request, reply) => {
    const user = owner(request)
    const body = request.body as Record<string, unknown> | null | undefined
    try {
      store.add(user.sub, body?.title as string)
    } catch (err) {
      if (!(err instanceof TodoValidationError)) throw err
      return sendHtml(reply, todoPage(store, user, request.session.csrfToken, err.message), 400)
    }
    return backToList(reply)
  })

  app.post<{ Params: { id: string } }>(
    '/todos/:id/toggle',
    { preHandler: requireLogin },
    async (request, reply) => {
      const id = parseTodoId(request.params.id)
      if (id !== undefined) store.toggle(owner(request).sub, id)
      return backToList(reply)
    },
  )

  app.post<{ Params: { id: string } }>(
    '/todos/:id/delete',
    { preHandler: requireLogin },
    async (request, reply) => {
      const id = parseTodoId(request.params.id)
      if (id !== undefined) store.delete(owner(request).sub, id)
      return backToList(reply)
    },
  )
}
