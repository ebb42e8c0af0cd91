/**
 * `runDoctor`: the named checks, in order, each handing what it learnt to the next (as
 * oidc-provider's token endpoint is a list of named middleware). When a check halts (no discovery,
 * no token endpoint), the checks after it are reported as skipped with its reason.
 */
import { authMethodsCheck } from './checks/auth_methods.js'
import { clientAuthCheck } from './checks/client_auth.js'
import { discoveryCheck } from './checks/discovery.js'
import { exchangeCheck } from './checks/exchange.js'
import { exchangeEnabledCheck } from './checks/exchange_enabled.js'
import { grantTypesCheck } from './checks/grant_types.js'
import { subjectTokenCheck } from './checks/subject_token.js'
import type {
  CheckResult,
  DoctorCheck,
  DoctorContext,
  DoctorOptions,
  DoctorReport,
} from './types.js'

/** The checks, in the order they run and are printed. */
export const DOCTOR_CHECKS: readonly DoctorCheck[] = Object.freeze([
  discoveryCheck,
  grantTypesCheck,
  authMethodsCheck,
  clientAuthCheck,
  exchangeEnabledCheck,
  subjectTokenCheck,
  exchangeCheck,
])

/** Runs every check against the IdP and returns the report (prints nothing). */
export async function runDoctor(
  options: DoctorOptions,
  checks: readonly DoctorCheck[] = DOCTOR_CHECKS,
): Promise<DoctorReport> {
  const context: DoctorContext = {
    options,
    wantsRfc8693: options.strategies.includes('rfc8693'),
    wantsFederation: options.strategies.includes('jwt-federation'),
  }
  const results: CheckResult[] = []
  let halted: string | undefined
  for (const check of checks) {
    if (halted) {
      if (check.reportedWhenSkipped)
        results.push({
          id: check.id,
          title: check.title,
          status: 'skip',
          required: false,
          detail: halted,
        })
      continue
    }
    const outcome = await check.run(context)
    results.push(...outcome.results)
    halted = outcome.halt
  }
  return {
    ok: !results.some((check) => check.required && check.status === 'fail'),
    idp: options.idp,
    issuer: options.issuer,
    strategies: options.strategies,
    checks: results,
  }
}
