/**
 * client_credentials (RFC 6749 §4.4) for a client's own service account: decided by the engine,
 * signed by oidc-provider. Its stages, run by the audited runner (../runner.ts) from the IdP's
 * `getResourceServerInfo` — once per token request, one audit event:
 *
 *   parse         oidc-provider's `resource` (at most one: oidc-provider's own rule for this
 *                 grant) and `scope`
 *   authenticate  the client oidc-provider authenticated is confidential (S6) and its
 *                 clientCredentials block is on (unauthorized_client)             decide.ts
 *   validate      nothing: no token is presented
 *   decide        audience, scopes and lifetime from the policy                     decide.ts
 *   mint          none here: oidc-provider signs the token from the decision
 *   respond       the decision, which the IdP turns into oidc-provider's resource server info
 *
 * @example
 * ```ts
 * const decision = await runner.run(grant, { params: ctx.oidc.params, client })
 * ```
 */
import type { ClientCredentialsAuditEvent } from '../audit.js'
import { checkConfidentialClient } from '../authenticate_client.js'
import { InvalidTarget } from '../errors.js'
import type { Grant } from '../grant.js'
import type { GrantParams } from '../types.js'
import { checkClientMayUseClientCredentials, decideClientCredentials } from './decide.js'
import type { ClientCredentialsPolicy } from './policy.js'
import {
  GRANT_TYPE_CLIENT_CREDENTIALS,
  type ClientCredentialsClient,
  type ClientCredentialsDecision,
  type ClientCredentialsInput,
  type ClientCredentialsRequest,
  type VerifiedClientCredentials,
} from './types.js'

export type ClientCredentialsGrant = Grant<{
  input: ClientCredentialsInput
  request: ClientCredentialsRequest
  requester: ClientCredentialsClient
  verified: VerifiedClientCredentials
  decision: ClientCredentialsDecision
  response: ClientCredentialsDecision
  event: ClientCredentialsAuditEvent
}>

export function createClientCredentialsGrant(
  policy: ClientCredentialsPolicy,
): ClientCredentialsGrant {
  if (!(policy?.clients instanceof Map) || policy.targets === undefined) {
    throw new TypeError('createClientCredentialsGrant: policy is required')
  }
  return Object.freeze({
    event: 'client_credentials',
    grantType: GRANT_TYPE_CLIENT_CREDENTIALS,
    parameters: new Set(['scope', 'resource']),
    allowedDuplicateParameters: new Set(['resource']),
    requesterOf: (input) => input?.client?.clientId,
    parse: (input) => parseClientCredentialsRequest(input.params),
    authenticate: (_request, input) =>
      checkClientMayUseClientCredentials(policy, checkConfidentialClient(input.client)),
    validate: (request, client) => ({ request, client }),
    decide(verified, context) {
      const decision = decideClientCredentials({ ...verified, policy })
      context.note({ audience: decision.audience, scopes: decision.scopes })
      return decision
    },
    mint: () => undefined,
    respond: (decision) => decision,
  } satisfies ClientCredentialsGrant)
}

/** Syntax of what oidc-provider passes on: its body parsing and `scope` check already ran. */
export function parseClientCredentialsRequest(params: GrantParams): ClientCredentialsRequest {
  const resources = params.resource === undefined ? [] : [params.resource].flat()
  if (resources.length > 1) {
    throw new InvalidTarget({
      description: 'only a single resource indicator value is supported for this grant type',
      detail: `${resources.length} resource indicators`,
    })
  }
  const scope = typeof params.scope === 'string' ? params.scope : undefined
  const request = {
    resource: resources[0] === '' ? undefined : resources[0],
    scopes: scope === undefined ? undefined : scope.split(' ').filter((s) => s !== ''),
  }
  return Object.freeze(request) as ClientCredentialsRequest
}
