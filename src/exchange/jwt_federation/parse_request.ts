/**
 * parse: form fields → `FederationRequest`. Syntax only: every parameter may appear once;
 * `client_id` and `client_assertion` are required, `scope` is RFC 6749 scope-tokens.
 *
 * @example
 * ```ts
 * if (isFederationRequest(params)) request = parseFederationRequest(params, policy.limits)
 * ```
 */
import { InvalidRequest } from '../errors.js'
import { SCOPE_TOKEN } from '../syntax.js'
import type { RequestLimits } from '../types.js'
import {
  CLIENT_ASSERTION_TYPE_JWT_BEARER,
  GRANT_TYPE_CLIENT_CREDENTIALS,
  type FederationParams,
  type FederationRequest,
} from './types.js'

/**
 * True when the form fields have the shape of the authentik-style request: client_credentials with
 * a jwt-bearer `client_assertion` and no `client_secret`. Anything else is not ours.
 */
export function isFederationRequest(params: FederationParams): boolean {
  return (
    params.grant_type === GRANT_TYPE_CLIENT_CREDENTIALS &&
    params.client_assertion_type === CLIENT_ASSERTION_TYPE_JWT_BEARER &&
    params.client_assertion !== undefined &&
    params.client_secret === undefined
  )
}

const MAX_PARAMETER_LENGTH = 1024

function single(params: FederationParams, name: string, maxLength: number): string | undefined {
  const value = params[name]
  if (value === undefined) return undefined
  if (typeof value !== 'string') {
    throw new InvalidRequest({
      description: `${name} must appear once`,
      detail: `${name} repeated`,
    })
  }
  if (value === '' || value.length > maxLength) {
    throw new InvalidRequest({
      description: `${name} is invalid`,
      detail: `${name} empty or too long`,
    })
  }
  return value
}

export function parseFederationRequest(
  params: FederationParams,
  limits: Pick<RequestLimits, 'maxTokenLength' | 'maxScopes'>,
): FederationRequest {
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'string' && value !== undefined) {
      throw new InvalidRequest({
        description: `${name} must appear once`,
        detail: `${name} repeated`,
      })
    }
  }
  const clientId = single(params, 'client_id', MAX_PARAMETER_LENGTH)
  if (clientId === undefined) {
    throw new InvalidRequest({ description: 'client_id is required', detail: 'no client_id' })
  }
  const assertion = single(params, 'client_assertion', limits.maxTokenLength)
  if (assertion === undefined) {
    throw new InvalidRequest({
      description: 'client_assertion is required',
      detail: 'no assertion',
    })
  }
  const scope = single(params, 'scope', MAX_PARAMETER_LENGTH)
  let scopes: string[] | undefined
  if (scope !== undefined) {
    scopes = [...new Set(scope.split(' ').filter((s) => s !== ''))]
    if (scopes.length > limits.maxScopes || scopes.some((s) => !SCOPE_TOKEN.test(s))) {
      throw new InvalidRequest({ description: 'scope is invalid', detail: 'malformed scope' })
    }
  }
  return Object.freeze({ clientId, assertion, scopes }) as FederationRequest
}
