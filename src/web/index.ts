/**
 * The web kit shared by App A and App B: page frame and escaping (`html`, `renderPage`), sessions,
 * CSRF and security headers (`registerWebBasics`), OpenID Connect sign-in (`registerOidcLogin`).
 */
export { escapeHtml, html, isSafeHtml, raw, SafeHtml } from './html.js'
export { renderErrorPage, renderPage } from './layout.js'
export type { ErrorPageOptions, NavItem, PageOptions, PageUser } from './layout.js'
export { isApiPath, registerWebBasics, safeEqual, sendHtml } from './basics.js'
export type { WebBasicsOptions } from './basics.js'
export type { Session } from './session.js'
export { isIdpUnavailable, registerOidcLogin, safeReturnTo, UserTokenError } from './oidc_login.js'
export type {
  OidcLogin,
  OidcLoginOptions,
  OidcSessionTokens,
  SessionUser,
  UserTokenErrorReason,
} from './oidc_login.js'
