/**
 * Text renderings of an attack report for the CLI: a plain table, Markdown, or JSON. Tokens appear
 * only as `«jwt sub=… (N chars)»` descriptions (record.ts); secrets never.
 */
import type { AttackReport } from './types.js'
import { MATRIX_COLUMNS, type MatrixRow } from './matrix.js'

function cell(value: MatrixRow[keyof MatrixRow]): string {
  if (value === null) return 'n/a'
  if (typeof value === 'boolean') return value ? 'yes' : 'no'
  return Array.isArray(value) ? value.join(', ') : String(value)
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)),
  )
  const line = (row: readonly string[]) => row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line)].join('\n')
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (text: string) => text.replaceAll('|', '\\|')
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(esc).join(' | ')} |`),
  ].join('\n')
}

function attemptRows(report: AttackReport): string[][] {
  return report.attempts.map((a) => [a.verdict, a.path, a.title, a.reason])
}

function matrixRows(report: AttackReport): { header: string[]; rows: string[][] } {
  return {
    header: ['Path', ...MATRIX_COLUMNS.map(([, label]) => label)],
    rows: report.matrix.map((row) => [row.title, ...MATRIX_COLUMNS.map(([key]) => cell(row[key]))]),
  }
}

export function formatText(report: AttackReport, options: { verbose?: boolean } = {}): string {
  const out: string[] = []
  out.push(
    `onbehalf attack lab — ${report.ranAt}`,
    `IdP ${report.issuer}, App B ${report.serviceUrl}; attacker holds App A's client secret and ${report.attacker}'s login; target: ${report.victim}'s todos`,
    '',
    'Attempts',
    table(['Verdict', 'Path', 'Attempt', 'Reason'], attemptRows(report)),
  )
  if (options.verbose) {
    for (const attempt of report.attempts) {
      out.push('', `## ${attempt.verdict} ${attempt.title}`)
      for (const step of attempt.steps) {
        out.push(`  ${step.label}`, `    → ${step.request.method} ${step.request.url}`)
        for (const [name, value] of Object.entries(step.request.headers))
          out.push(`      ${name}: ${value}`)
        if (step.request.form)
          out.push(
            `      ${new URLSearchParams(step.request.form).toString().replaceAll('&', '\n      ')}`,
          )
        out.push(`    ← ${step.response.status} ${JSON.stringify(step.response.body)}`)
      }
    }
  }
  out.push('', 'Blast radius of a compromised App A')
  for (const radius of report.blastRadius) out.push(`  ${radius.title}: ${radius.summary}`)
  const { header, rows } = matrixRows(report)
  out.push('', 'Comparison matrix (computed from this run)', table(header, rows))
  return out.join('\n')
}

export function formatMarkdown(report: AttackReport): string {
  const { header, rows } = matrixRows(report)
  return [
    `## onbehalf attack lab (${report.ranAt})`,
    '',
    `Attacker: App A's client secret and ${report.attacker}'s login. Target: ${report.victim}'s todos in App B.`,
    '',
    '### Attempts',
    '',
    markdownTable(['Verdict', 'Path', 'Attempt', 'Reason'], attemptRows(report)),
    '',
    '### Blast radius of a compromised App A',
    '',
    ...report.blastRadius.map((radius) => `- **${radius.title}**: ${radius.summary}`),
    '',
    '### Comparison matrix',
    '',
    markdownTable(header, rows),
    '',
  ].join('\n')
}

export function formatJson(report: AttackReport): string {
  return JSON.stringify(report, null, 2)
}
