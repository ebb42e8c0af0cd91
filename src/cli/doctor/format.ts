/** The doctor's text output: one line per check, a `fix:` line under each failure, warning or skip. */
import { idpProfile } from '../../idp_profiles/index.js'
import type { CheckStatus, DoctorReport } from './types.js'

const MARK: Record<CheckStatus, string> = { pass: '✔', fail: '✘', warn: '!', skip: '○' }

export function formatReport(report: DoctorReport): string {
  const lines = [
    `onbehalf doctor — ${idpProfile(report.idp).label} at ${report.issuer} (strategies: ${report.strategies.join(', ')})`,
  ]
  for (const check of report.checks) {
    lines.push(`${MARK[check.status]} ${check.title}: ${check.detail}`)
    if (check.fix && check.status !== 'pass') lines.push(`    fix: ${check.fix}`)
  }
  lines.push(report.ok ? 'all required checks passed' : 'some required checks failed')
  return lines.join('\n')
}
