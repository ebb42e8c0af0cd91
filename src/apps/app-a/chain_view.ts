/**
 * App A's "Delegation chain" card: the hops User → App A → App B → App C drawn from the tokens
 * that really travelled — the user's own access token, the token App A obtained for App B, and the
 * claims App C verified on the token App B obtained for it. Per hop: `aud`, `azp`, `client_id` and
 * the `act` nesting (RFC 8693 §4.1: the outermost actor is the current one, nested ones came
 * before). HTML and CSS only (the CSP forbids scripts and inline styles); decoded claims only, never
 * a token string. A hop that failed shows its error; the hops after it show "not reached".
 */
import { html, type SafeHtml } from '../../web/html.js'
import type { ActivityEntry } from './app_b_client.js'
import { describeTime } from './claims_diff.js'

/** The receiving party of each hop: its token is addressed to this service. */
export type ChainHopId = 'app-a' | 'app-b' | 'app-c'

export interface ChainModel {
  /** The user's access token (hop User → App A). */
  userClaims?: Record<string, unknown> | undefined
  /** The token App A obtained for App B by exchange (hop App A → App B). */
  appBClaims?: Record<string, unknown> | undefined
  /** What App C verified on the token App B obtained for it (hop App B → App C). */
  appCSeen?: Record<string, unknown> | undefined
  /** App C's recent entries for the user, newest first. */
  entries?: readonly ActivityEntry[]
  /**
   * The same last hop the second way: what App C verified on the txn token App B obtained from
   * the STS's Txn-Token Service (draft-ietf-oauth-transaction-tokens-10), or why it failed.
   */
  txnVariant?: { seen?: Record<string, unknown>; error?: string } | undefined
  /** The first hop that failed and why (safe text: OAuth codes and fixed descriptions). */
  failure?: { hop: ChainHopId; message: SafeHtml | string }
}

const MAX_ACT_DEPTH = 8

const HOPS: ReadonlyArray<{ id: ChainHopId; from: string; to: string; token: string }> = [
  { id: 'app-a', from: 'User', to: 'App A', token: 'your access token (sign-in)' },
  { id: 'app-b', from: 'App A', to: 'App B', token: 'exchanged by App A (RFC 8693)' },
  { id: 'app-c', from: 'App B', to: 'App C', token: 'exchanged by App B, as App C saw it' },
]

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function claimValue(claims: Record<string, unknown>, name: string, testId: string): SafeHtml {
  const value = claims[name]
  return value === undefined
    ? html`<span class="muted" data-testid="${testId}">absent</span>`
    : html`<code data-testid="${testId}">${text(value)}</code>`
}

/** `act` as nested boxes, outermost (current) actor first; each level names its `sub`. */
export function actNesting(act: unknown, depth = 0): SafeHtml {
  if (act === undefined || act === null) {
    return depth === 0 ? html`<span class="muted">none (no actor)</span>` : html``
  }
  if (typeof act !== 'object' || Array.isArray(act) || depth >= MAX_ACT_DEPTH) {
    return html`<code>${text(act)}</code>`
  }
  const level = act as Record<string, unknown>
  const sub = typeof level.sub === 'string' ? level.sub : text(level.sub)
  return html`<div class="act-box" data-testid="act-level" data-act-sub="${sub}">
    <span class="act-label">${depth === 0 ? 'act (current actor)' : 'act (earlier actor)'}</span>
    <code>${sub}</code>
    ${level.act !== undefined ? actNesting(level.act, depth + 1) : ''}
  </div>`
}

function hopBody(
  claims: Record<string, unknown> | undefined,
  failure: ChainModel['failure'],
  hop: ChainHopId,
  reached: boolean,
): SafeHtml {
  const error =
    failure?.hop === hop
      ? html`<p class="alert alert-error small" data-testid="chain-error">${failure.message}</p>`
      : ''
  if (!claims) {
    return html`${error}${!error && !reached ? html`<p class="muted small">Not reached.</p>` : ''}`
  }
  return html`${error}
    <dl class="facts facts-stacked">
      <dt>aud</dt>
      <dd>${claimValue(claims, 'aud', 'chain-hop-aud')}</dd>
      <dt>azp</dt>
      <dd>${claimValue(claims, 'azp', 'chain-hop-azp')}</dd>
      <dt>client_id</dt>
      <dd>${claimValue(claims, 'client_id', 'chain-hop-client-id')}</dd>
      <dt>sub</dt>
      <dd>${claimValue(claims, 'sub', 'chain-hop-sub')}</dd>
      <dt>act</dt>
      <dd>${actNesting(claims.act)}</dd>
    </dl>`
}

/** App B → App C the second way: the txn token's claims as App C verified them. */
function txnVariantPanel(variant: ChainModel['txnVariant']): SafeHtml {
  if (!variant) return html``
  const seen = variant.seen
  return html`<section
    class="chain-variant"
    data-testid="chain-txn-variant"
    data-ok="${String(seen !== undefined)}"
  >
    <h3>App B → App C, the second way: a transaction token</h3>
    <p class="small muted">
      Instead of a second exchange, App B asked the STS's Txn-Token Service for a txn token of the
      trust domain and sent it in the <code>Txn-Token</code> header
      (draft-ietf-oauth-transaction-tokens-10). No <code>act</code>: the token names the transaction
      (<code>txn</code>) and the workload that requested it (<code>req_wl</code>).
    </p>
    ${
      seen === undefined
        ? html`<p class="alert alert-error small" data-testid="chain-txn-error">
            ${variant.error ?? 'not reached'}
          </p>`
        : html`<dl class="facts facts-stacked">
            <dt>aud (trust domain)</dt>
            <dd>${claimValue(seen, 'aud', 'chain-txn-aud')}</dd>
            <dt>txn</dt>
            <dd>${claimValue(seen, 'txn', 'chain-txn-txn')}</dd>
            <dt>req_wl</dt>
            <dd>${claimValue(seen, 'req_wl', 'chain-txn-req-wl')}</dd>
            <dt>sub</dt>
            <dd>${claimValue(seen, 'sub', 'chain-txn-sub')}</dd>
            <dt>scope (purpose)</dt>
            <dd>${claimValue(seen, 'scope', 'chain-txn-scope')}</dd>
            <dt>tctx</dt>
            <dd>${claimValue(seen, 'tctx', 'chain-txn-tctx')}</dd>
          </dl>`
    }
  </section>`
}

function activityList(entries: readonly ActivityEntry[] | undefined, now: number): SafeHtml {
  if (!entries) return html``
  if (entries.length === 0) {
    return html`<p class="muted small" data-testid="activity-empty">
      No activity yet. Change a todo in App B and it appears here.
    </p>`
  }
  return html`<ul class="activity-list" data-testid="activity-list">
    ${entries.slice(0, 10).map(
      (entry) =>
        html`<li
          data-testid="activity-entry"
          data-action="${entry.action}"
          data-actor-chain="${entry.actorChain.join(',')}"
          data-txn="${entry.txn ?? ''}"
        >
          <code>${entry.action}</code> ${entry.detail}
          <span class="small muted"
            >— recorded by <code>${entry.recordedBy}</code>, chain
            <code>${entry.actorChain.join(' → ') || '(none)'}</code>,
            ${entry.txn ? html`txn <code>${entry.txn}</code>,` : ''}
            ${describeTime(Date.parse(entry.at) / 1000, now)}</span
          >
        </li>`,
    )}
  </ul>`
}

export function chainCard(chain: ChainModel, now: number): SafeHtml {
  const claimsOf: Record<ChainHopId, Record<string, unknown> | undefined> = {
    'app-a': chain.userClaims,
    'app-b': chain.appBClaims,
    'app-c': chain.appCSeen,
  }
  const failedAt = chain.failure ? HOPS.findIndex((hop) => hop.id === chain.failure?.hop) : -1
  const nodes = ['User', 'App A', 'App B', 'App C']
  const items: SafeHtml[] = []
  HOPS.forEach((hop, index) => {
    items.push(html`<li class="chain-node" data-testid="chain-node">${nodes[index]}</li>`)
    const claims = claimsOf[hop.id]
    const ok = claims !== undefined && chain.failure?.hop !== hop.id
    items.push(
      html`<li
        class="chain-hop${ok ? '' : ' chain-hop-failed'}"
        data-testid="chain-hop"
        data-hop="${hop.id}"
        data-ok="${String(ok)}"
      >
        <p class="chain-hop-title">${hop.from} → ${hop.to}</p>
        <p class="small muted">${hop.token}</p>
        ${hopBody(claims, chain.failure, hop.id, failedAt === -1 || index <= failedAt)}
      </li>`,
    )
  })
  items.push(html`<li class="chain-node" data-testid="chain-node">${nodes[3]}</li>`)
  return html`<section class="card chain-card" data-testid="chain-card">
    <div class="card-header">
      <h2>Delegation chain</h2>
      <span class="badge badge-green">RFC 8693 §4.1</span>
    </div>
    <p class="small muted">
      App A asked App B for your activity; App B exchanged the token it received for one addressed
      to App C. Each hop below is drawn from the token that really travelled: App C decides on the
      top-level claims and the outermost actor only; the nested actor is the history.
    </p>
    <ol class="chain">
      ${items}
    </ol>
    ${txnVariantPanel(chain.txnVariant)}
    <h3>Recent activity in App C</h3>
    ${activityList(chain.entries, now)}
  </section>`
}
