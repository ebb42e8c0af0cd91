/**
 * The paths App A can take to reach App B for its user, each a `PathStrategy` returning a
 * `PathResult`. `createPathStrategies` lists them in display order; adding a path (e.g. an STS) is
 * one more entry.
 */
import type { TokenExchangeClient } from '../../client/token_exchange_client.js'
import { createJwtFederationStrategy } from './jwt_federation.js'
import { createM2mHeaderStrategy } from './m2m_header.js'
import { createRfc8693Strategy, RFC8693_STS_PATH } from './rfc8693.js'
import type { PathInput, PathResult, PathStrategy, PathTarget } from './types.js'

export * from './types.js'
export { callService, decodeClaims, requestToken } from './http.js'
export { federationForm } from './jwt_federation.js'
export { serviceTokenForm, USER_HEADER } from './m2m_header.js'

/** The IdP capabilities (src/idp_profiles `Strategy`) each path needs. */
export const PATH_NEEDS = Object.freeze({
  rfc8693: 'rfc8693',
  'jwt-federation': 'jwt-federation',
  'm2m-header': 'header-workaround',
} as const)

export function createPathStrategies(
  target: PathTarget,
  options: {
    readonly exchanger?: TokenExchangeClient
    /** The onbehalf STS's token endpoint: adds the "RFC 8693 via onbehalf STS" path. */
    readonly stsTokenEndpoint?: string
    /** What the IdP supports (IDP_STRATEGIES); paths it cannot run are left out. Default: all. */
    readonly supported?: readonly string[]
  } = {},
): PathStrategy[] {
  const runs = (path: keyof typeof PATH_NEEDS) =>
    !options.supported || options.supported.includes(PATH_NEEDS[path])
  return [
    ...(runs('rfc8693')
      ? [createRfc8693Strategy(target, options.exchanger ? { exchanger: options.exchanger } : {})]
      : []),
    // The STS needs nothing from the IdP but its signed access tokens: it is the fix for IdPs
    // that lack RFC 8693.
    ...(options.stsTokenEndpoint
      ? [
          createRfc8693Strategy(
            { ...target, tokenEndpoint: options.stsTokenEndpoint },
            { path: RFC8693_STS_PATH },
          ),
        ]
      : []),
    ...(runs('jwt-federation') ? [createJwtFederationStrategy(target)] : []),
    ...(runs('m2m-header') ? [createM2mHeaderStrategy(target)] : []),
  ]
}

/** Runs every strategy concurrently; one failing path never hides the others. */
export async function runPaths(
  strategies: readonly PathStrategy[],
  input: PathInput,
): Promise<PathResult[]> {
  return Promise.all(
    strategies.map((strategy) =>
      strategy.run(input).catch((error: unknown): PathResult => ({
        id: strategy.id,
        title: strategy.id,
        pattern: '',
        badge: 'red',
        grantType: '',
        ok: false,
        tokens: [],
        error: { stage: 'token', message: error instanceof Error ? error.name : 'failed' },
        durationMs: 0,
      })),
    ),
  )
}
