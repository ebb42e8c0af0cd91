/**
 * Which oidc-provider route a request path names, decided the way oidc-provider's own router
 * decides (oidc-provider 9, lib/helpers/router.js), so that checks in front of oidc-provider (the
 * abuse limits, the JWT federation middleware) see the route oidc-provider will actually serve:
 *
 * - static paths match case-insensitively — ASCII letters only: its `fold()` keeps any non-ASCII
 *   character whose upper case would be ASCII, so `/ToKeN` names the token endpoint, `/to\u212Aen`
 *   (Kelvin sign) does not;
 * - a path that does not match is tried once more without one trailing slash (`/token/`);
 * - the path is not percent-decoded (`/%74oken` is a 404 there) and `//` is not collapsed.
 *
 * `canonicalize` rewrites a matching request to the route's own path (`/TOKEN/` → `/token`), so
 * everything after it compares exact paths. A request oidc-provider serves on a route that this
 * resolver did not recognise is logged as an error by the limits (app.ts), never silently served.
 */

/** oidc-provider route names whose requests authenticate a client, so abuse limits cover them. */
export const CLIENT_AUTHENTICATING_ROUTES = [
  'token',
  'revocation',
  'introspection',
  'pushed_authorization_request',
] as const

export type ClientAuthenticatingRoute = (typeof CLIENT_AUTHENTICATING_ROUTES)[number]

export interface ResolvedRoute {
  readonly route: ClientAuthenticatingRoute
  /** The route's own path (`/token`), as oidc-provider registered it. */
  readonly path: string
}

export interface ProviderRouteResolver {
  /** The route `rawPath` (no query string) names, or undefined when it names none of ours. */
  resolve(rawPath: string): ResolvedRoute | undefined
  /** Routes that are enabled, with their paths. */
  readonly routes: readonly ResolvedRoute[]
}

/** ASCII-only case folding, as oidc-provider's router compares static paths. */
function foldAscii(path: string): string {
  return path.replace(/[a-z]/g, (letter) => letter.toUpperCase())
}

/**
 * @param pathFor the provider's `pathFor(name)`: throws for a route that is not enabled.
 * @example
 * const routes = createProviderRouteResolver((name) => provider.pathFor(name))
 * routes.resolve('/TOKEN/') // { route: 'token', path: '/token' }
 */
export function createProviderRouteResolver(
  pathFor: (name: string) => string,
): ProviderRouteResolver {
  const byFoldedPath = new Map<string, ResolvedRoute>()
  for (const route of CLIENT_AUTHENTICATING_ROUTES) {
    let path: string
    try {
      path = pathFor(route)
    } catch {
      continue // not enabled: oidc-provider serves nothing there
    }
    byFoldedPath.set(foldAscii(path), Object.freeze({ route, path }))
  }
  const lookup = (path: string) => byFoldedPath.get(foldAscii(path))
  return Object.freeze({
    routes: Object.freeze([...byFoldedPath.values()]),
    resolve(rawPath: string) {
      const exact = lookup(rawPath)
      if (exact) return exact
      if (rawPath.length > 1 && rawPath.endsWith('/')) return lookup(rawPath.slice(0, -1))
      return undefined
    },
  })
}
