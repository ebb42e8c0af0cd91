/**
 * authenticate and validate: the named target is a configured client (`invalid_client` 401, like
 * authentik for an unknown client_id), and the assertion passes exactly the checks of an RFC 8693
 * subject token (verify_access_token.ts: signature with a pinned algorithm and our keys,
 * `typ: at+jwt`, `iss`, times, still live). Every assertion fault is `invalid_grant` with one fixed
 * description, as authentik answers; the reason goes to `detail`.
 *
 * @example
 * ```ts
 * const target = findFederationTarget(policy, request)
 * const assertion = await validateAssertion(request.assertion, { verifier, subjectStatus, policy, now })
 * ```
 */
import { InvalidClient, InvalidGrant, OAuthError } from '../errors.js'
import { verifyAccessToken, type TokenValidationDeps } from '../verify_access_token.js'
import type { FederationPolicy } from './policy.js'
import {
  ASSERTION_INVALID,
  type FederationRequest,
  type FederationTarget,
  type VerifiedAssertion,
} from './types.js'

/** The policy of the client named by `client_id`; an unknown client is `invalid_client`. */
export function findFederationTarget(
  policy: FederationPolicy,
  request: Pick<FederationRequest, 'clientId'>,
): FederationTarget {
  const target = policy.get(request.clientId)
  if (target === undefined) throw new InvalidClient({ detail: 'unknown client_id' })
  return target as FederationTarget
}

export async function validateAssertion(
  assertion: string,
  deps: Omit<TokenValidationDeps, 'boundTokens'>,
): Promise<VerifiedAssertion> {
  try {
    // The grant takes no DPoP proof: a bound assertion would be re-issued without its key, so the
    // shared validation refuses any `cnf` (`invalid_grant`, passed through as is).
    return (await verifyAccessToken(assertion, 'subject', {
      ...deps,
      boundTokens: 'refuse',
    })) as VerifiedAssertion
  } catch (err) {
    if (err instanceof OAuthError && err.error === 'invalid_request') {
      throw new InvalidGrant({
        description: ASSERTION_INVALID,
        detail: `assertion: ${err.detail ?? err.description}`,
        cause: err,
      })
    }
    throw err
  }
}
