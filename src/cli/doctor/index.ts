/**
 * `onbehalf doctor`: points at an identity provider (the embedded one, Keycloak, authentik or any
 * issuer) and reports, one line per named check, what works for on-behalf-of calls and how to fix
 * what does not. The checks, in order (run.ts, one module each in checks/): discovery → grant
 * types → client auth methods → client authentication (a deliberately invalid request) → exchange
 * enabled → subject token (a real sign-in through the login form) → test exchange.
 *
 * @example
 * onbehalf doctor --idp keycloak --username demo --password changeme
 * onbehalf doctor --issuer http://localhost:9000 --client-secret … --json
 */
export type { CheckResult, CheckStatus, DoctorCheck, DoctorOptions, DoctorReport } from './types.js'
export { DOCTOR_CHECKS, runDoctor } from './run.js'
export { formatReport } from './format.js'
export { doctorOptionsFrom, runDoctorCommand, type DoctorIo } from './command.js'
export { TOKEN_EXCHANGE_GRANT } from './http.js'
/** The headless sign-in's login-form finder (src/demo/form_login.ts), as doctor uses it. */
export { findLoginForm } from '../../demo/form_login.js'
