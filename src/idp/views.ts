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

/** A date as the user reads it on the consent and account pages (UTC, unambiguous). */
export function formatUntil(epochSeconds: number): string {
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

/**
 * The Device Authorization Grant's (RFC 8628 §3.3) code entry page. `form` is oidc-provider's own
 * form (its xsrf token and the `user_code` field, id `op.deviceInputForm`); we label it.
 */
export function renderDeviceCodeInput(form: string, error?: string): string {
  return layout(
    'Connect a device',
    html`<section class="card auth-card" aria-labelledby="device-title">
      <h1 id="device-title">Connect an app</h1>
      <p class="auth-lead">
        Enter the code the app shows you (for the Assistant: <code>onbehalf agent login</code>).
      </p>
      ${error ? html`<p class="alert alert-error" role="alert" data-testid="device-error">${error}</p>` : raw('')}
      <div class="field device-code-field">
        <label for="device-user-code">Code</label>
        ${raw(form.replace('name="user_code"', 'id="device-user-code" name="user_code" aria-describedby="device-code-hint"'))}
        <p class="hint" id="device-code-hint">Eight letters, with or without the dash.</p>
      </div>
      <button type="submit" form="op.deviceInputForm" class="button button-primary button-block">
        Continue
      </button>
    </section>`,
  )
}

/** RFC 8628 §5.4: the user checks that the code matches the one the app shows before going on. */
export function renderDeviceCodeConfirm(
  form: string,
  clientName: string,
  userCode: string,
): string {
  return layout(
    'Confirm the code',
    html`<section class="card auth-card" aria-labelledby="confirm-title">
      <h1 id="confirm-title">Is this the code ${clientName} shows?</h1>
      <p class="auth-lead"><code data-testid="device-user-code">${userCode}</code></p>
      <p class="hint">If you did not start this, or the code differs, press Cancel.</p>
      ${raw(form)}
      <div class="row">
        <button type="submit" form="op.deviceConfirmForm" class="button button-primary">
          Yes, continue
        </button>
        <button
          type="submit"
          form="op.deviceConfirmForm"
          name="abort"
          value="yes"
          class="button button-secondary"
        >
          Cancel
        </button>
      </div>
    </section>`,
  )
}

export function renderDeviceDone(clientName: string): string {
  return layout(
    'Connected',
    html`<section class="card auth-card">
      <h1>Done</h1>
      <p class="auth-lead" data-testid="device-done">
        ${clientName} is connected. You can close this tab. See or revoke what it may do at
        <a href="/account/delegations">your delegations</a>.
      </p>
    </section>`,
  )
}

export interface ConsentView {
  readonly actionUrl: string
  readonly csrfToken: string
  readonly agentName: string
  readonly audienceName: string
  readonly scopes: readonly string[]
  readonly until: string
  readonly username: string
}

/** The delegation consent: who may act for whom, where, with what, until when (issue 16). */
export function renderConsent(view: ConsentView): string {
  return layout(
    'Delegate',
    html`<section class="card auth-card" aria-labelledby="consent-title">
      <h1 id="consent-title">Let ${view.agentName} act for you?</h1>
      <p class="auth-lead" data-testid="consent-text">
        ${view.agentName} may act for you at ${view.audienceName}: ${view.scopes.join(', ')}, until
        ${view.until}
      </p>
      <ul class="stack" aria-label="What this allows">
        ${view.scopes.map((scope) => html`<li><code>${scope}</code></li>`)}
      </ul>
      <p class="hint">
        Signed in as <strong>${view.username}</strong>. ${view.agentName}'s changes are marked
        "added by ${view.agentName} on your behalf". You can revoke this at any time at
        <a href="/account/delegations">your delegations</a>.
      </p>
      <form method="post" action="${view.actionUrl}" class="row">
        <input type="hidden" name="csrf" value="${view.csrfToken}" />
        <button
          type="submit"
          name="decision"
          value="allow"
          class="button button-primary"
          data-testid="consent-allow"
        >
          Allow
        </button>
        <button
          type="submit"
          name="decision"
          value="deny"
          class="button button-secondary"
          data-testid="consent-deny"
        >
          Deny
        </button>
      </form>
    </section>`,
  )
}

export interface DelegationRowView {
  readonly id: string
  readonly agentName: string
  readonly audienceName: string
  readonly scopes: readonly string[]
  readonly since: string
  readonly until: string
}

export interface AccountDelegationsView {
  readonly username: string
  readonly csrfToken: string
  readonly delegations: readonly DelegationRowView[]
  readonly notice?: string
}

/** `/account/delegations`: the signed-in user's delegations, each with a Revoke button. */
export function renderAccountDelegations(view: AccountDelegationsView): string {
  return layout(
    'Your delegations',
    html`<section class="card auth-card" aria-labelledby="delegations-title">
      <h1 id="delegations-title">Your delegations</h1>
      <p class="auth-lead">Signed in as <strong>${view.username}</strong>.</p>
      ${view.notice ? html`<p class="alert" role="status" data-testid="delegations-notice">${view.notice}</p>` : raw('')}
      ${
        view.delegations.length === 0
          ? html`<p data-testid="no-delegations">No app may act for you.</p>`
          : html`<ul class="stack" data-testid="delegations">
              ${view.delegations.map(
                (row) =>
                  html`<li data-testid="delegation" data-delegation-id="${row.id}">
                    <p>
                      <strong>${row.agentName}</strong> may act for you at ${row.audienceName}:
                      ${row.scopes.join(', ')}, until ${row.until} (since ${row.since})
                    </p>
                    <form method="post" action="/account/delegations/${row.id}/revoke">
                      <input type="hidden" name="csrf" value="${view.csrfToken}" />
                      <button
                        type="submit"
                        class="button button-secondary"
                        aria-label="Revoke ${row.agentName} at ${row.audienceName}"
                        data-testid="revoke"
                      >
                        Revoke
                      </button>
                    </form>
                  </li>`,
              )}
            </ul>`
      }
    </section>`,
  )
}
