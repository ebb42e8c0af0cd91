/**
 * The page frame both apps share: header (app name, navigation, signed-in user with a logout form),
 * main content, footer. No inline script or style, so the strict CSP of `registerWebBasics` holds.
 *
 * @example
 * reply.type('text/html; charset=utf-8').send(
 *   renderPage({ appName: 'App A', title: 'Dashboard', csrfToken: request.session.csrfToken, body: html`<p>Hi</p>` }),
 * )
 */
import { html, isSafeHtml, type SafeHtml } from './html.js'

export interface PageUser {
  name?: string | undefined
  username?: string | undefined
}

export interface NavItem {
  href: string
  label: string
  current?: boolean
}

export interface PageOptions {
  appName: string
  title: string
  user?: PageUser | null | undefined
  csrfToken: string
  body: SafeHtml | string
  nav?: NavItem[]
  /** Theme colour of the header stripe and brand mark: blue (default), violet, teal, green, orange. */
  accent?: string
}

// The CSP forbids inline styles, so the accent is a named theme class rather than a raw colour.
const ACCENTS = new Set(['blue', 'violet', 'teal', 'green', 'orange'])

function accentClass(accent: string | undefined): string {
  const name = accent?.toLowerCase()
  return `accent-${name && ACCENTS.has(name) ? name : 'blue'}`
}

export function renderPage(options: PageOptions): string {
  const { appName, title, user, csrfToken, nav = [] } = options
  const body = isSafeHtml(options.body) ? options.body : html`${options.body}`
  const displayName = user ? (user.name ?? user.username ?? 'Signed in') : undefined
  return (
    '<!doctype html>\n' +
    html`<html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${title} · ${appName}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/assets/style.css" />
      </head>
      <body class="${accentClass(options.accent)}">
        <header class="site-header">
          <div class="container header-inner">
            <a class="brand" href="/" data-testid="app-name"
              ><span class="brand-mark" aria-hidden="true"></span>${appName}</a
            >
            ${
              nav.length > 0 &&
              html`<nav class="nav" aria-label="Main">
                ${nav.map(
                  (item) =>
                    html`<a
                      href="${item.href}"
                      ${item.current ? html` aria-current="page" class="current"` : ''}
                      >${item.label}</a
                    >`,
                )}
              </nav>`
            }
            <div class="user-box">
              ${
                user
                  ? html`<span class="user-name" data-testid="user-name"
                        >${displayName}${
                          user.username && user.name
                            ? html` <span class="muted">@${user.username}</span>`
                            : ''
                        }</span
                      >
                      <form method="post" action="/auth/logout" class="inline-form">
                        <input type="hidden" name="_csrf" value="${csrfToken}" />
                        <button
                          type="submit"
                          class="button button-secondary button-small"
                          data-testid="logout-button"
                        >
                          Sign out
                        </button>
                      </form>`
                  : html`<a class="button button-small" href="/auth/login" data-testid="login-link"
                      >Sign in</a
                    >`
              }
            </div>
          </div>
        </header>
        <main class="container main">
          <h1 class="page-title">${title}</h1>
          ${body}
        </main>
        <footer class="site-footer">
          <div class="container">
            ${appName} · onbehalf demo · identity travels with the request, never the password
          </div>
        </footer>
      </body>
    </html> `.toString()
  )
}

export interface ErrorPageOptions {
  appName: string
  status: number
  title: string
  message: string
  csrfToken?: string
  user?: PageUser | null
  /** Extra trusted markup below the message (e.g. a retry link). */
  actions?: SafeHtml
  accent?: string
}

/** A readable error page: a title and a safe message, never a stack trace. */
export function renderErrorPage(options: ErrorPageOptions): string {
  return renderPage({
    appName: options.appName,
    title: options.title,
    user: options.user,
    csrfToken: options.csrfToken ?? '',
    accent: options.accent,
    body: html`<section class="card card-error" data-testid="error-page">
      <p><span class="badge badge-red">HTTP ${options.status}</span></p>
      <p data-testid="error-message">${options.message}</p>
      ${options.actions ?? html`<p><a class="button" href="/">Back to the start page</a></p>`}
    </section>`,
  })
}
