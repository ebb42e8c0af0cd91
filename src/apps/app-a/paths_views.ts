/**
 * App A's comparison views: one card per path (rendered from a list of `PathResult`s by one card
 * component), the attack lab page and the comparison matrix. Inputs are decoded claims and
 * recorded requests whose tokens were already replaced by descriptions — never token strings.
 */
import {
  MATRIX_COLUMNS,
  type AttackReport,
  type AttemptResult,
  type MatrixRow,
} from '../../attack/index.js'
import type { PathResult, Verdict } from '../../demo/paths/types.js'
import { html, type SafeHtml } from '../../web/html.js'

function json(value: unknown): string {
  return JSON.stringify(value, null, 1)
}

function verdictBadge(verdict: Verdict | undefined, testId: string): SafeHtml {
  if (!verdict) return html`<span class="badge" data-testid="${testId}">not observed</span>`
  return html`<span
      class="badge ${verdict.ok ? 'badge-green' : 'badge-red'}"
      data-testid="${testId}"
      data-ok="${String(verdict.ok)}"
      >${verdict.ok ? 'yes' : 'no'}</span
    >
    <span class="small muted">${verdict.reason}</span>`
}

/** One path: badge, count, verdicts, decoded tokens; a failing path shows its error here only. */
export function pathCard(result: PathResult): SafeHtml {
  const call = result.serviceCall
  const count =
    result.ok && call?.count !== undefined
      ? html`<p class="big-number" data-testid="path-count">${call.count}</p>
          <p class="small">
            App B served <code>${call.user}</code>, caller <code>${call.caller}</code>, decided by
            <code data-testid="path-decided-by">${call.decidedBy}</code>${
              call.userHeader ? html`, X-User-Sub sent: <code>${call.userHeader}</code>` : ''
            }
          </p>`
      : ''
  const error = result.error
    ? html`<p class="alert alert-error" data-testid="path-error">
        ${result.error.stage === 'token' ? 'No token: ' : 'App B refused: '}${result.error.message}
      </p>`
    : ''
  const verdicts = result.verdicts
  return html`<section
    class="card path-card"
    data-testid="path-card"
    data-path="${result.id}"
    data-ok="${String(result.ok)}"
  >
    <div class="card-header">
      <h3>${result.title}</h3>
      <span class="badge badge-${result.badge}" data-testid="path-badge">${result.id}</span>
    </div>
    <p class="small muted">${result.pattern}</p>
    ${count}${error}
    <dl class="facts facts-stacked">
      <dt>Grant</dt>
      <dd>
        <code>${result.grantType}</code>${
          result.tokenRequest
            ? html` —
              ${
                result.tokenRequest.clientAuth === 'none'
                  ? 'no client authentication'
                  : result.tokenRequest.clientAuth
              },
              HTTP ${result.tokenRequest.status}`
            : ''
        }
      </dd>
      <dt>User bound in token?</dt>
      <dd>${verdictBadge(verdicts?.userBound, 'verdict-user-bound')}</dd>
      <dt>Acting service recorded?</dt>
      <dd>${verdictBadge(verdicts?.actorRecorded, 'verdict-actor-recorded')}</dd>
      <dt>Requester authenticated?</dt>
      <dd>${verdictBadge(verdicts?.requesterAuthenticated, 'verdict-requester-authenticated')}</dd>
    </dl>
    ${result.tokens.map(
      (token) =>
        html`<details>
          <summary>${token.label}</summary>
          <pre>${json(token.claims)}</pre>
        </details>`,
    )}
  </section>`
}

const NUMBER_WORDS = ['No', 'One', 'Two', 'Three', 'Four', 'Five', 'Six', 'Seven', 'Eight', 'Nine']

/** "Four ways to reach App B": the count comes from the paths that ran, never a fixed word. */
export function pathsHeading(count: number): string {
  const number = NUMBER_WORDS[count] ?? String(count)
  return `${number} ${count === 1 ? 'way' : 'ways'} to reach App B, side by side`
}

export function pathCards(results: readonly PathResult[]): SafeHtml {
  return html`<section class="card" data-testid="paths">
    <div class="card-header">
      <h2 data-testid="paths-heading">${pathsHeading(results.length)}</h2>
      <a href="/attack">Attack lab →</a>
    </div>
    <p class="small muted">
      Each path ran for you just now against the same App B. Verdicts are computed from the tokens
      the IdP really issued and the requests App A really sent; only decoded claims are shown.
    </p>
    <div class="path-grid">${results.map(pathCard)}</div>
  </section>`
}

function cell(value: MatrixRow[keyof MatrixRow]): SafeHtml {
  if (value === null) return html`<span class="muted">n/a</span>`
  if (typeof value === 'boolean') {
    return html`<span class="badge ${value ? 'badge-green' : 'badge-red'}"
      >${value ? 'yes' : 'no'}</span
    >`
  }
  return html`${Array.isArray(value) ? value.join(', ') : String(value)}`
}

export function matrixTable(rows: readonly MatrixRow[]): SafeHtml {
  return html`<div class="table-wrap">
    <table data-testid="matrix">
      <thead>
        <tr>
          <th>Path</th>
          ${MATRIX_COLUMNS.map(([, label]) => html`<th>${label}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (row) =>
            html`<tr data-testid="matrix-row" data-path="${row.path}">
              <td><span class="badge badge-${row.badge}">${row.title}</span></td>
              ${MATRIX_COLUMNS.map(
                ([key]) => html`<td data-column="${key}">${cell(row[key])}</td>`,
              )}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`
}

function attemptCard(attempt: AttemptResult): SafeHtml {
  const leaked = attempt.verdict === 'LEAKED'
  return html`<section
    class="card"
    data-testid="attempt"
    data-attempt="${attempt.id}"
    data-verdict="${attempt.verdict}"
  >
    <div class="card-header">
      <h3>${attempt.title}</h3>
      <span class="badge ${leaked ? 'badge-red' : 'badge-green'}" data-testid="attempt-verdict"
        >${attempt.verdict}</span
      >
    </div>
    <p><strong>Goal:</strong> ${attempt.goal}</p>
    <p data-testid="attempt-reason"><strong>Why:</strong> ${attempt.reason}</p>
    ${attempt.steps.map(
      (step) =>
        html`<details>
          <summary>${step.label}: ${step.request.method} → HTTP ${step.response.status}</summary>
          <p class="small"><strong>Request</strong></p>
          <pre>
${step.request.method} ${step.request.url}
${Object.entries(step.request.headers).map(([name, value]) => `${name}: ${value}\n`)}${
              step.request.form ? `\n${json(step.request.form)}` : ''
            }</pre>
          <p class="small"><strong>Response</strong></p>
          <pre>
HTTP ${step.response.status}
${json(step.response.body)}</pre>
          ${step.tokens.map(
            (token) =>
              html`<p class="small"><strong>${token.label}</strong> (decoded)</p>
                <pre>${json(token.claims)}</pre>`,
          )}
        </details>`,
    )}
  </section>`
}

export function attackLabBody(options: {
  csrfToken: string
  report?: AttackReport
  error?: string
  attacker: string
  victim: string
}): SafeHtml {
  const { report } = options
  const form = html`<section class="card" data-testid="attack-intro">
    <p>
      The lab plays a <strong>compromised App A</strong>: it holds App A's client secret and the
      attacker's own login (<code>${options.attacker}</code>), and it wants another user's data
      (<code>${options.victim}</code>'s todos in App B). Every attempt runs on the server against
      the real IdP and App B; the page shows each request, the response and the verdict.
    </p>
    <form method="post" action="/attack">
      <input type="hidden" name="_csrf" value="${options.csrfToken}" />
      <button class="button" type="submit" data-testid="run-attack">Run the attacks</button>
    </form>
    ${
      options.error
        ? html`<p class="alert alert-error" data-testid="attack-error">${options.error}</p>`
        : ''
    }
  </section>`
  if (!report) return form
  const leaked = report.attempts.filter((a) => a.verdict === 'LEAKED').length
  return html`${form}
    <section class="card" data-testid="attack-summary">
      <h2>${leaked} of ${report.attempts.length} attempts leaked data</h2>
      <h3>What a compromised App A can reach</h3>
      <ul>
        ${report.blastRadius.map(
          (radius) =>
            html`<li data-testid="blast-radius" data-path="${radius.path}">
              <strong>${radius.title}:</strong> ${radius.summary}
            </li>`,
        )}
      </ul>
      <p class="small muted">
        RFC 8693 does not make a compromised App A harmless: it can still act for every user whose
        live access token it holds. What it removes is the rest — users who are not signed in to App
        A, forged or edited tokens, other audiences, and anyone without App A's secret.
      </p>
    </section>
    <section class="card">
      <h2>Comparison matrix</h2>
      <p class="small muted">Computed from this run: ${report.ranAt}.</p>
      ${matrixTable(report.matrix)}
    </section>
    ${report.attempts.map(attemptCard)}`
}
