/**
 * The client side of RFC 9728: from a resource's URL to the token endpoint that issues tokens for
 * it. Reads the resource's protected resource metadata, refuses a document whose `resource` is not
 * the URL asked for (§3.3: one resource cannot pose as another and redirect a client's tokens),
 * then the first authorization server's metadata (RFC 8414, or OpenID Connect Discovery), whose
 * `issuer` must be the one the resource named (RFC 8414 §3.3).
 *
 * Faults are one typed error, `ResourceDiscoveryError`, with a `reason`.
 *
 * @example
 * ```ts
 * const found = await discoverProtectedResource('https://todos.example')
 * const exchanger = createTokenExchangeClient({ tokenEndpoint: found.tokenEndpoint, … })
 * await exchanger.exchange({ subjectToken, resource: found.resource })
 * ```
 */
import { z } from 'zod'
import { fetchJson } from './fetch_json.js'

export type ResourceDiscoveryFailure =
  'unreachable' | 'not_found' | 'invalid_metadata' | 'resource_mismatch' | 'issuer_mismatch'

export class ResourceDiscoveryError extends Error {
  static readonly code = 'ERR_RESOURCE_DISCOVERY_FAILED'
  readonly code = ResourceDiscoveryError.code
  override name = 'ResourceDiscoveryError'
  readonly reason: ResourceDiscoveryFailure

  constructor(reason: ResourceDiscoveryFailure, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.reason = reason
  }
}

export interface DiscoveredResource {
  /** The resource identifier, to send as RFC 8707 `resource`. */
  readonly resource: string
  readonly authorizationServer: string
  readonly tokenEndpoint: string
  readonly scopesSupported: readonly string[]
  /** DPoP algorithms the resource accepts; empty when it does not accept DPoP. */
  readonly dpopAlgorithms: readonly string[]
  readonly dpopRequired: boolean
}

const resourceMetadataSchema = z.object({
  resource: z.string().min(1),
  authorization_servers: z.array(z.string().url()).min(1),
  scopes_supported: z.array(z.string()).optional(),
  dpop_signing_alg_values_supported: z.array(z.string()).optional(),
  dpop_bound_access_tokens_required: z.boolean().optional(),
})

const serverMetadataSchema = z.object({
  issuer: z.string().min(1),
  token_endpoint: z.string().url(),
})

/** RFC 9728 §3.1: the well-known path goes between the host and the resource's path. */
export function resourceMetadataUrlOf(resource: string): string {
  const url = new URL(resource)
  return `${url.origin}/.well-known/oauth-protected-resource${url.pathname.replace(/\/+$/, '')}`
}

/** RFC 8414 §3.1 (well-known inserted before the issuer's path), then OIDC Discovery 1.0 §4. */
function serverMetadataUrlsOf(issuer: string): string[] {
  const url = new URL(issuer)
  const path = url.pathname.replace(/\/+$/, '')
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ]
}

export async function discoverProtectedResource(
  resource: string,
  options: { readonly fetch?: typeof fetch; readonly timeoutMs?: number } = {},
): Promise<DiscoveredResource> {
  const fetchImpl = options.fetch ?? globalThis.fetch
  const timeoutMs = options.timeoutMs ?? 5000
  if (URL.parse(resource) === null) throw new TypeError('resource must be an absolute URL')
  const headers = { accept: 'application/json' }

  const answer = await fetchJson(fetchImpl, resourceMetadataUrlOf(resource), { headers }, timeoutMs)
  if (!answer.reached) {
    throw new ResourceDiscoveryError('unreachable', 'the resource cannot be reached', {
      cause: answer.cause,
    })
  }
  if (!answer.response.ok) {
    throw new ResourceDiscoveryError(
      'not_found',
      `the resource publishes no metadata (HTTP ${answer.response.status})`,
    )
  }
  const parsed = resourceMetadataSchema.safeParse(answer.json)
  if (!parsed.success) {
    throw new ResourceDiscoveryError('invalid_metadata', 'the resource metadata is malformed')
  }
  const metadata = parsed.data
  if (metadata.resource !== resource) {
    throw new ResourceDiscoveryError(
      'resource_mismatch',
      'the metadata names another resource than the one asked for',
    )
  }

  const issuer = metadata.authorization_servers[0]!
  let server: z.infer<typeof serverMetadataSchema> | undefined
  for (const url of serverMetadataUrlsOf(issuer)) {
    const found = await fetchJson(fetchImpl, url, { headers }, timeoutMs)
    if (!found.reached || !found.response.ok) continue
    const checked = serverMetadataSchema.safeParse(found.json)
    if (checked.success) {
      server = checked.data
      break
    }
  }
  if (server === undefined) {
    throw new ResourceDiscoveryError(
      'not_found',
      'the authorization server publishes no usable metadata',
    )
  }
  if (server.issuer.replace(/\/+$/, '') !== issuer.replace(/\/+$/, '')) {
    throw new ResourceDiscoveryError(
      'issuer_mismatch',
      'the authorization server metadata names another issuer',
    )
  }
  return Object.freeze({
    resource: metadata.resource,
    authorizationServer: server.issuer,
    tokenEndpoint: server.token_endpoint,
    scopesSupported: Object.freeze([...(metadata.scopes_supported ?? [])]),
    dpopAlgorithms: Object.freeze([...(metadata.dpop_signing_alg_values_supported ?? [])]),
    dpopRequired: metadata.dpop_bound_access_tokens_required === true,
  })
}
