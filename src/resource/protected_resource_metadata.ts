/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728), the resource server's side: the JSON document
 * a resource publishes at `/.well-known/oauth-protected-resource` so a client (an MCP client, an
 * agent) learns which authorization server issues tokens for it, which scopes it knows and how
 * tokens may be presented, and the `resource_metadata` challenge parameter (§5.1) that points a
 * refused client to it.
 *
 * Options are checked once (`TypeError` naming the field). The `resource` value is the resource
 * identifier exactly as clients send it as RFC 8707 `resource`; the client kit refuses a document
 * whose `resource` differs from the URL it was fetched for (§3.3), so one resource cannot pose as
 * another.
 *
 * @example
 * ```ts
 * const metadata = createProtectedResourceMetadata({
 *   resource: 'https://todos.example',
 *   authorizationServers: ['https://idp.example'],
 *   scopesSupported: ['todos:read'],
 *   dpopAlgorithms: ['ES256'],
 * })
 * app.get(metadata.path, async () => metadata.document)
 * ```
 */
import { isResourceUri } from '../exchange/syntax.js'

export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource'

export interface ProtectedResourceMetadataOptions {
  /** The resource identifier (RFC 8707): an absolute https/http URL without query or fragment. */
  readonly resource: string
  /** Issuers of the authorization servers whose tokens this resource accepts. */
  readonly authorizationServers: readonly string[]
  readonly scopesSupported?: readonly string[]
  /** A human-readable name (`resource_name`). */
  readonly resourceName?: string
  /** DPoP algorithms accepted (RFC 9449 §5.1 via RFC 9728 §2); absent when DPoP is not accepted. */
  readonly dpopAlgorithms?: readonly string[]
  /** Only DPoP-bound tokens are accepted. Default false. */
  readonly dpopRequired?: boolean
}

/** RFC 9728 §2: the members onbehalf publishes. */
export interface ProtectedResourceMetadataDocument {
  readonly resource: string
  readonly authorization_servers: readonly string[]
  readonly bearer_methods_supported: readonly string[]
  readonly scopes_supported?: readonly string[]
  readonly resource_name?: string
  readonly dpop_signing_alg_values_supported?: readonly string[]
  readonly dpop_bound_access_tokens_required?: boolean
}

export interface ProtectedResourceMetadata {
  /** Where the document is served on this resource's origin (RFC 9728 §3.1). */
  readonly path: string
  /** Its absolute URL: the `resource_metadata` challenge parameter. */
  readonly url: string
  readonly document: ProtectedResourceMetadataDocument
}

/**
 * RFC 9728 §3.1: the well-known URL of a resource identifier — the well-known path inserted
 * between the host and the identifier's path (a trailing `/` of the path dropped).
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource)
  const path = url.pathname.replace(/\/+$/, '')
  return `${url.origin}${PROTECTED_RESOURCE_WELL_KNOWN}${path}`
}

export function createProtectedResourceMetadata(
  options: ProtectedResourceMetadataOptions,
): ProtectedResourceMetadata {
  const { resource } = options
  if (typeof resource !== 'string' || !isResourceUri(resource) || URL.parse(resource) === null) {
    throw new TypeError('"resource" must be an absolute URL without query or fragment')
  }
  const servers = options.authorizationServers
  if (!Array.isArray(servers) || servers.length === 0) {
    throw new TypeError('"authorizationServers" must name at least one issuer')
  }
  for (const server of servers) {
    if (typeof server !== 'string' || URL.parse(server) === null) {
      throw new TypeError('"authorizationServers" must hold absolute URLs')
    }
  }
  const url = protectedResourceMetadataUrl(resource)
  const document: ProtectedResourceMetadataDocument = Object.freeze({
    resource,
    authorization_servers: Object.freeze([...new Set(servers)]),
    // RFC 6750 §2.1 only: the kit refuses tokens in the query or the body.
    bearer_methods_supported: Object.freeze(['header']),
    ...(options.scopesSupported === undefined
      ? {}
      : { scopes_supported: Object.freeze([...options.scopesSupported]) }),
    ...(options.resourceName === undefined ? {} : { resource_name: options.resourceName }),
    ...(options.dpopAlgorithms === undefined
      ? {}
      : {
          dpop_signing_alg_values_supported: Object.freeze([...options.dpopAlgorithms]),
          dpop_bound_access_tokens_required: options.dpopRequired === true,
        }),
  })
  return Object.freeze({ path: new URL(url).pathname, url, document })
}
