/**
 * The web kit shared by App A and App B: page frame and escaping (`html`, `renderPage`), sessions,
 * CSRF and security headers (`registerWebBasics`), OpenID Connect sign-in (`registerOidcLogin`).
 */
export { html } from './html.js'
export { renderPage } from './layout.js'
export { registerWebBasics, sendHtml } from './basics.js'
export { registerOidcLogin } from './oidc_login.js'
export type { SessionUser } from './oidc_login.js'
