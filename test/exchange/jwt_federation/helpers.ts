/** Fixtures of the JWT federation grant tests: its policy and a request's form fields. */
import {
  createFederationPolicy,
  type FederationPolicy,
} from '../../../src/exchange/jwt_federation/policy.js'
import { CLIENT_ASSERTION_TYPE_JWT_BEARER } from '../../../src/exchange/jwt_federation/types.js'

export const targetScopes = { 'app-a': ['todos:read'], 'app-b': ['todos:read', 'todos:write'] }

export function federationPolicy(subject: 'user' | 'service-account' = 'user'): FederationPolicy {
  return createFederationPolicy(
    { 'app-a': undefined, 'app-b': { enabled: true, trustedClients: ['app-a'], subject } },
    targetScopes,
  )
}

export function federationParams(assertion: string, extra: Record<string, string> = {}) {
  return {
    grant_type: 'client_credentials',
    client_id: 'app-b',
    client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
    client_assertion: assertion,
    scope: 'openid todos:read',
    ...extra,
  }
}
