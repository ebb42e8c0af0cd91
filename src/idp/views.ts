/**
 * Server-rendered IdP pages: login, logout confirmation, logged-out and error. Accessible forms
 * (labels, autocomplete hints, one visible error region), no scripts, the shared stylesheet.
 */
import { html, raw, type SafeHtml } from '../web/html.js'

function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · onbehalf IdP</title>
        <link rel="stylesheet" href="/assets/style.css" />
      </head>
      <body class="idp">
        <main class="auth-shell">
          <div class="auth-brand">
            <span class="brand-mark" aria-hidden="true"></span><span>onbehalf</span
            ><span class="auth-brand-sub">identity provider</span>
          </div>
          ${body}
          <p class="auth-footer">Your password is only ever typed here, never into the apps.</p>
        </main>
      </body>
    </html>`.toString()
}

export interface LoginView {
  actionUrl: string
  clientName: string
  username?: string
  error?: string
}

export function renderLogin(view: LoginView): string {
  return layout(
    'Sign in',
    html`<section class="card auth-card" aria-labelledby="login-title">
      <h1 id="login-title">Sign in</h1>
      <p class="auth-lead">to continue to <strong>${view.clientName}</strong></p>
      ${view.error ? html`<p class="alert alert-error" role="alert" data-testid="login-error">${view.error}</p>` : raw('')}
      <form method="post" action="${view.actionUrl}" class="stack" autocomplete="on">
        <div class="field">
          <label for="username">Username</label>
          <input
            id="username"
            name="username"
            type="text"
            autocomplete="username"
            autocapitalize="none"
            spellcheck="false"
            required
            maxlength="64"
            value="${view.username ?? ''}"
            ${view.username ? raw('') : raw('autofocus')}
          />
        </div>
        <div class="field">
          <label for="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            maxlength="256"
            ${view.username ? raw('autofocus') : raw('')}
          />
        </div>
        <button type="submit" class="button button-primary button-block">Sign in</button>
      </form>
      <p class="hint">
        Demo accounts: <code>demo</code>, <code>alice</code>, <code>bob</code> — password
        <code>changeme</code>.
      </p>
    </section>`,
  )
}

export function renderIdpError(error: string, description: string): string {
  return layout(
    'Error',
    html`<section class="card auth-card" role="alert">
      <h1>Something went wrong</h1>
      ${description ? html`<p class="auth-lead">${description}</p>` : raw('')}
      <p class="alert alert-error">Error code <code data-testid="idp-error">${error}</code></p>
      <p class="hint">Go back to the app you came from and sign in again.</p>
    </section>`,
  )
}

export interface LogoutConfirmView {
  /** Names of the apps signed in through this IdP session. */
  readonly signedInApps: readonly string[]
  /** The app that asked for the sign-out, when it said who it is. */
  readonly requestingApp?: string
}

/**
 * `form` is oidc-provider's own hidden-field form (it carries its xsrf token); we only add the
 * buttons. Each button says what it does: "every app" ends the IdP session and tells every app
 * (back-channel logout); the other ends only the requesting app's part of it, and the next sign-in
 * there asks for the password again (the app asks with prompt=login after a sign-out).
 */
export function renderLogoutConfirm(form: string, view: LogoutConfirmView): string {
  const only = view.requestingApp
  const apps = view.signedInApps.filter((name) => name !== only)
  return layout(
    'Sign out',
    html`<section class="card auth-card">
      <h1>Sign out?</h1>
      ${only ? html`<p class="auth-lead">You are signed out of ${only}.</p>` : raw('')}
      <p class="auth-lead" data-testid="signed-in-apps">
        ${
          apps.length > 0
            ? html`Still signed in through this identity provider: ${apps.join(', ')}.`
            : html`You are still signed in to the identity provider itself.`
        }
      </p>
      ${raw(form)}
      <div class="row">
        <button
          type="submit"
          form="op.logoutForm"
          name="logout"
          value="yes"
          class="button button-primary"
          data-testid="logout-everywhere"
        >
          Sign out of every app
        </button>
        <button
          type="submit"
          form="op.logoutForm"
          class="button button-secondary"
          data-testid="logout-only-requester"
        >
          ${only ? html`Only ${only}` : html`Stay signed in`}
        </button>
      </div>
    </section>`,
  )
}

export function renderLoggedOut(): string {
  return layout(
    'Signed out',
    html`<section class="card auth-card">
      <h1>Signed out</h1>
      <p class="auth-lead">
        You have been signed out of the identity provider and of every app that was using it. You
        can close this tab.
      </p>
    </section>`,
  )
}
