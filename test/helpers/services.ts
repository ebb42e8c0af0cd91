/**
 * Tests that need PostgreSQL or Redis skip when the server is not there (a laptop without them),
 * but CI starts both, so there an unreachable server is a failure: .ci/run sets
 * `ONBEHALF_REQUIRE_SERVICES=1` and a skip would hide that the tests never ran.
 */
export class RequiredServiceUnavailableError extends Error {
  static readonly code = 'ERR_TEST_SERVICE_UNAVAILABLE'
  readonly code = RequiredServiceUnavailableError.code
  override name = 'RequiredServiceUnavailableError'
}

/** The skip reason, or a thrown error when `ONBEHALF_REQUIRE_SERVICES=1`. */
export function servicesRequired(reason: string): string {
  if (process.env.ONBEHALF_REQUIRE_SERVICES === '1') {
    throw new RequiredServiceUnavailableError(
      `${reason} (ONBEHALF_REQUIRE_SERVICES=1: not skipped)`,
    )
  }
  return reason
}
