/**
 * validate (1/2): `ExchangeRequest` → `VerifiedSubject` (RFC 8693 §2.1 subject_token, RFC 9068).
 *
 * Only JWT access tokens (`typ: at+jwt`) from a trusted issuer, signed with a pinned algorithm,
 * within their lifetime and still active are accepted. ID tokens, logout tokens and anything else
 * answer `invalid_request` / `subject_token is invalid`, the reason in `detail`. The checks live in
 * `verify_access_token.ts`, the one path shared with actor tokens and federation assertions.
 *
 * @example
 * ```ts
 * const subject = await validateSubjectToken(request, { verifier, subjectStatus, policy, now })
 * ```
 */
import { verifyAccessToken, type TokenValidationDeps } from '../verify_access_token.js'
import type { ExchangeRequest, VerifiedSubject } from './types.js'

export async function validateSubjectToken(
  request: ExchangeRequest,
  deps: TokenValidationDeps,
): Promise<VerifiedSubject> {
  return (await verifyAccessToken(request.subjectToken, 'subject', deps)) as VerifiedSubject
}
