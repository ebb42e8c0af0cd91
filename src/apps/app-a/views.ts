/**
 * App A's pages. Inputs are decoded claims and typed results, never token strings, so no token
 * can end up in the HTML.
 */
import type { TokenExchangeError } from '../../client/index.js'
import { html, type SafeHtml } from '../../web/html.js'
import { renderPage, type NavItem } from '../../web/layout.js'
import type { SessionUser, UserTokenError } from '../../web/oidc_login.js'
import type { AppBFailure, AppBResult, Todo, TodoCount } from './app_b_client.js'
import { buildClaimsDiff, describeTime } from './claims_diff.js'
import type { PathResult } from '../../demo/paths/types.js'
import { pathCards } from './paths_views.js'
import { chainCard, type ChainModel } from './chain_view.js'

export const APP_NAME = 'App A'
const ACCENT = 'blue'

export function nav(current: '/' | '/todos' | '/attack'): NavItem[] {
  return [
    { href: '/', label: 'Dashboard', current: current === '/' },
    { href: '/todos', label: 'My todos', current: current === '/todos' },
    { href: '/attack', label: 'Attack lab', current: current === '/attack' },
  ]
}

export function landingPage(options: { csrfToken: string; appBUrl: string }): string {
  return renderPage({
    appName: APP_NAME,
    title: 'Act on behalf of your users, safely',
    csrfToken: options.csrfToken,
    accent: ACCENT,
    body: html`<section class="card hero" data-testid="landing">
      <p>
        App A is a small web app that needs data from another service, <strong>App B</strong>, which
        keeps your todos. It never sees your password and never forwards your own token. Instead it
        asks the identity provider to <strong>exchange</strong> your access token for a new one that
        is addressed to App B, names you as the subject and App A as the actor (OAuth 2.0 Token
        Exchange, RFC 8693).
      </p>
      <p>
        Sign in to see how many todos App B holds for you, and to compare the two tokens claim by
        claim.
      </p>
      <p>
        <a class="button" href="/auth/login" data-testid="sign-in">Sign in</a>
        <a class="button button-secondary" href="${options.appBUrl}" data-testid="app-b-link"
          >Open App B</a
        >
      </p>
    </section>`,
  })
}

function renderValue(value: unknown, isTime: boolean, now: number): SafeHtml {
  if (value === undefined) return html`<span class="absent">absent</span>`
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 1)
  const human =
    isTime && typeof value === 'number'
      ? html`<span class="human">${describeTime(value, now)}</span>`
      : ''
  return html`<pre>${text}</pre>
    ${human}`
}

function claimsDiffTable(
  original: Record<string, unknown> | undefined,
  exchanged: Record<string, unknown> | undefined,
  now: number,
): SafeHtml {
  const rows = buildClaimsDiff(original, exchanged)
  return html`<div class="table-wrap">
    <table class="claims-diff" data-testid="claims-diff">
      <thead>
        <tr>
          <th>Claim</th>
          <th>Your access token (aud App A)</th>
          <th>Exchanged token (for App B)</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (row) =>
            html`<tr
              class="${row.differs ? 'diff' : 'same'}"
              data-testid="claim-row-${row.name}"
              data-differs="${String(row.differs)}"
            >
              <td class="claim-name">${row.name}</td>
              <td>${renderValue(row.original, row.isTime, now)}</td>
              <td>${renderValue(row.exchanged, row.isTime, now)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`
}

function appBFailureMessage(failure: AppBFailure): SafeHtml {
  switch (failure.kind) {
    case 'unreachable':
      return html`App B cannot be reached (${failure.message}). Is it running?`
    case 'invalid_response':
      return html`App B answered HTTP ${failure.status} with something unexpected.`
    case 'http':
      return html`App B refused the request: HTTP
      ${failure.status}${
        failure.error ? html` <code data-testid="app-b-error-code">${failure.error}</code>` : ''
      }${failure.description ? html` — ${failure.description}` : ''}`
  }
}

export interface DashboardModel {
  csrfToken: string
  user: SessionUser
  appBUrl: string
  audience: string
  requestedScope: string
  /** Epoch seconds. */
  now: number
  userTokenError?: UserTokenError
  originalClaims?: Record<string, unknown>
  exchange?: {
    claims: Record<string, unknown> | undefined
    scope: string | undefined
    issuedTokenType: string
    expiresAt: number
    fromCache: boolean
    /** Wall time of this page's call to the exchange client (a cache lookup when `fromCache`). */
    durationMs: number
    /** When the token endpoint issued the token and how long that took (`ExchangeResult.exchange`). */
    exchanged?: { at: number; durationMs: number } | undefined
    /** RFC 9449: the DPoP key thumbprint the token is bound to; absent for a bearer token. */
    jkt?: string | undefined
  }
  exchangeError?: TokenExchangeError
  todoCount?: AppBResult<TodoCount>
  /** Every path (RFC 8693, federation re-issue, M2M + header) run for this user, side by side. */
  paths?: PathResult[]
  /** The chain User → App A → App B → App C, from the tokens of this page view. */
  chain?: ChainModel
}

function todoCard(model: DashboardModel): SafeHtml {
  const count = model.todoCount
  let content: SafeHtml
  if (model.userTokenError) {
    content = html`<p class="alert alert-warning" data-testid="user-token-error">
      Your session at the identity provider could not be used: ${model.userTokenError.message}.
      <a href="/auth/login?returnTo=%2F">Sign in again</a>.
    </p>`
  } else if (model.exchangeError) {
    content = html`<p class="muted">App B was not called: there is no token for it.</p>`
  } else if (!count) {
    content = html`<p class="muted">App B was not called.</p>`
  } else if (count.ok) {
    const who =
      count.value.user === undefined
        ? undefined
        : typeof count.value.user === 'string'
          ? count.value.user
          : JSON.stringify(count.value.user)
    const decidedBy =
      count.value.decidedBy === undefined
        ? undefined
        : typeof count.value.decidedBy === 'string'
          ? count.value.decidedBy
          : JSON.stringify(count.value.decidedBy)
    content = html`<p class="big-number" data-testid="todo-count">${count.value.count}</p>
      <p data-testid="todo-count-text">
        You have ${count.value.count} ${count.value.count === 1 ? 'todo' : 'todos'} in App B.
      </p>
      <dl class="facts">
        ${
          who !== undefined &&
          html`<dt>App B saw</dt>
            <dd data-testid="app-b-user">${who}</dd>`
        }
        ${
          decidedBy !== undefined &&
          html`<dt>Decided by</dt>
            <dd data-testid="app-b-decided-by">${decidedBy}</dd>`
        }
      </dl>
      ${
        (count.value.actorWrites?.length ?? 0) > 0 &&
        html`<ul class="stack" data-testid="actor-writes" aria-label="Changes made on your behalf">
          ${(count.value.actorWrites ?? []).map(
            (write) =>
              html`<li data-testid="actor-write">
                <strong>${write.title}</strong> —
                ${[
                  ...(write.addedByName ? [`added by ${write.addedByName} on your behalf`] : []),
                  ...(write.completedByName ? [`completed by ${write.completedByName}`] : []),
                ].join(' · ')}
              </li>`,
          )}
        </ul>`
      }`
  } else {
    content = html`<p class="alert alert-error" data-testid="app-b-error">
      ${appBFailureMessage(count.failure)}
    </p>`
  }
  return html`<section class="card" data-testid="todo-card">
    <div class="card-header">
      <h2>Your todos in App B</h2>
      <a href="${model.appBUrl}" data-testid="app-b-link">Open App B →</a>
    </div>
    ${content}
  </section>`
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`
}

/** A cache hit costs a lookup, not an exchange: say so instead of showing a misleading "0.1 ms". */
function exchangeTiming(exchange: NonNullable<DashboardModel['exchange']>, now: number): SafeHtml {
  if (!exchange.fromCache) {
    return html`<dt>Exchange took</dt>
      <dd data-testid="exchange-duration">${ms(exchange.durationMs)}</dd>`
  }
  const original = exchange.exchanged
  return html`<dt>Served</dt>
    <dd data-testid="exchange-duration">
      ${
        original
          ? html`served from cache in ${ms(exchange.durationMs)}
              <span class="muted"
                >(the exchange itself took ${ms(original.durationMs)} at
                ${describeTime(original.at, now)})</span
              >`
          : html`served from App A's cache`
      }
    </dd>`
}

function exchangeCard(model: DashboardModel): SafeHtml {
  const exchange = model.exchange
  let status: SafeHtml
  if (model.exchangeError) {
    const err = model.exchangeError
    status = html`<div class="alert alert-error" data-testid="exchange-error">
      <strong>The identity provider refused the exchange.</strong>
      <code data-testid="exchange-error-code">${err.error}</code
      >${err.statusCode ? html` (HTTP ${err.statusCode})` : ''}
      ${err.description ? html`<br /><span data-testid="exchange-error-description">${err.description}</span>` : ''}
    </div>`
  } else if (model.userTokenError) {
    status = html`<p class="muted">No exchange: your own access token is not available.</p>`
  } else {
    status = html``
  }
  const facts = html`<dl class="facts">
    <dt>Method</dt>
    <dd data-testid="method">
      RFC 8693 token exchange
      <span class="badge badge-green" data-testid="method-badge">RFC 8693</span>
    </dd>
    <dt>Audience</dt>
    <dd><code>${model.audience}</code> requested, scope <code>${model.requestedScope}</code></dd>
    ${
      exchange &&
      html`<dt>Issued token type</dt>
        <dd><code>${exchange.issuedTokenType}</code></dd>
        <dt>Sender constraint</dt>
        <dd data-testid="dpop-binding">
          ${
            exchange.jkt
              ? html`<span class="badge badge-green">DPoP-bound</span> to App A's key
                  <code>${exchange.jkt}</code> (<code>cnf.jkt</code>): useless without it`
              : html`<span class="badge badge-yellow">bearer</span> whoever holds it can use it`
          }
        </dd>
        <dt>Granted scope</dt>
        <dd><code>${exchange.scope ?? '(not stated)'}</code></dd>
        <dt>Source</dt>
        <dd data-testid="cache-status">
          ${
            exchange.fromCache
              ? html`<span class="badge badge-yellow">cached</span> reused until shortly before it
                  expires`
              : html`<span class="badge badge-green">fresh</span> exchanged for this page view`
          }
        </dd>
        ${exchangeTiming(exchange, model.now)}
        <dt>Expires</dt>
        <dd>${describeTime(exchange.expiresAt, model.now)}</dd>`
    }
  </dl>`
  const diff =
    model.originalClaims || exchange?.claims
      ? html`<h3>Claims side by side</h3>
          <p class="muted small">
            Rows that differ are highlighted. Only decoded claims are shown; the tokens themselves
            never leave the server.
          </p>
          ${claimsDiffTable(model.originalClaims, exchange?.claims, model.now)}`
      : ''
  return html`<section class="card" data-testid="exchange-info">
    <div class="card-header">
      <h2>Token Exchange Info</h2>
      <span class="badge badge-green">RFC 8693</span>
    </div>
    ${status}${facts}${diff}
  </section>`
}

export function dashboardPage(model: DashboardModel): string {
  return renderPage({
    appName: APP_NAME,
    title: `Hello, ${model.user.name ?? model.user.username ?? model.user.sub}`,
    user: model.user,
    csrfToken: model.csrfToken,
    nav: nav('/'),
    accent: ACCENT,
    body: html`${todoCard(model)}${model.chain ? chainCard(model.chain, model.now) : ''}${
      model.paths ? pathCards(model.paths) : ''
    }${exchangeCard(model)}`,
  })
}

export function todosPage(model: {
  csrfToken: string
  user: SessionUser
  appBUrl: string
  error?: SafeHtml
  todos?: Todo[]
}): string {
  const list = model.todos
  return renderPage({
    appName: APP_NAME,
    title: 'My todos (from App B)',
    user: model.user,
    csrfToken: model.csrfToken,
    nav: nav('/todos'),
    accent: ACCENT,
    body: html`<section class="card" data-testid="todos-card">
      ${model.error && html`<p class="alert alert-error" data-testid="todos-error">${model.error}</p>`}
      ${
        list &&
        (list.length === 0
          ? html`<p class="muted" data-testid="todos-empty">App B holds no todos for you.</p>`
          : html`<div class="table-wrap">
              <table data-testid="todos-table">
                <thead>
                  <tr>
                    <th>Todo</th>
                    <th>Status</th>
                  </tr>
                </thead>
                <tbody>
                  ${list.map((todo) => {
                    const done = todo.done ?? todo.completed ?? false
                    return html`<tr>
                      <td>${todo.title ?? todo.text ?? String(todo.id ?? '')}</td>
                      <td>
                        ${
                          done
                            ? html`<span class="badge badge-green">done</span>`
                            : html`<span class="badge">open</span>`
                        }
                      </td>
                    </tr>`
                  })}
                </tbody>
              </table>
            </div>`)
      }
      <p class="small muted">
        Loaded from <a href="${model.appBUrl}">App B</a> with a token exchanged for you (RFC 8693).
      </p>
    </section>`,
  })
}

export { appBFailureMessage }
