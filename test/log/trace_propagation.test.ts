/**
 * One user action followed across the hops: a page of App A that makes App A exchange the user's
 * token at the IdP and call App B, which exchanges again and calls App C. The page request carries
 * a W3C `traceparent` and an `x-request-id` (as a load balancer sends them); the captured log lines
 * of every service (request lines, handler lines, audit lines) carry the same trace id and request
 * id, each hop has its own span id, and each hop's parent id is the span of the hop that called it.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { createLogger } from '../../src/log/logger.js'
import { TestBrowser } from '../helpers/browser.js'
import { startStack, type Stack } from '../helpers/stack.js'

type Line = Record<string, unknown>

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const CALLER_SPAN = '00f067aa0ba902b7'
const REQUEST_ID = 'lb-user-action-7'

describe('traceparent and request id from App A through App B to App C', () => {
  const lines: Line[] = []
  let stack: Stack
  before(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
        done()
      },
    })
    stack = await startStack({ apps: true, logger: createLogger({ level: 'info' }, sink) })
  })
  after(() => stack?.close())

  it('WhenOneUserActionCrossesAppsABAndCThenEveryHopLogsTheTraceWithChainedSpans', async () => {
    const browser = new TestBrowser()
    // Sign in landing on a page that calls nobody, so the traced page makes the first exchanges.
    const form = await browser.navigate(`${stack.env.APP_A_URL}/auth/login?returnTo=%2Fhealthz`)
    const signedIn = await browser.submitForm(
      form,
      { username: 'demo', password: 'changeme' },
      '/login',
    )
    assert.equal(signedIn.status, 200)

    const page = await browser.request(`${stack.env.APP_A_URL}/`, {
      headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, 'x-request-id': REQUEST_ID },
    })
    assert.equal(page.status, 200)
    assert.match(page.body, /data-testid="logout-button"/)

    const traced = lines.filter((line) => line.traceId === TRACE_ID)
    // Every line of the action names the request id; none of another request joins the trace.
    for (const line of traced) assert.equal(line.reqId, REQUEST_ID, JSON.stringify(line))
    assert.ok(
      lines.filter((line) => line.reqId === REQUEST_ID).every((l) => l.traceId === TRACE_ID),
    )

    const of = (component: string) => traced.filter((line) => line.component === component)
    const spans = (hop: Line[]) => new Set(hop.map((line) => String(line.spanId)))

    const appA = of('app-a')
    assert.ok(appA.length >= 2, 'App A: request and response lines')
    assert.equal(spans(appA).size, 1, 'App A served one request: one span')
    const [spanA] = spans(appA)
    for (const line of appA) assert.equal(line.parentId, CALLER_SPAN)

    const appB = of('app-b')
    assert.ok(appB.length >= 2, 'App B lines in the trace')
    const spansB = spans(appB)
    assert.ok(!spansB.has(spanA!), 'App B has its own span')
    for (const line of appB) assert.equal(line.parentId, spanA, 'App B was called by App A')

    const appC = of('app-c')
    assert.ok(appC.length >= 2, 'App C lines in the trace')
    for (const line of appC) {
      assert.ok(spansB.has(String(line.parentId)), 'App C was called by App B')
      assert.ok(!spansB.has(String(line.spanId)) && line.spanId !== spanA, 'App C has its own span')
    }

    // The IdP's audit lines of both exchanges: App A's (parent: App A) and App B's (parent: App B).
    const audits = traced.filter(
      (line) => (line.audit as { event?: string } | undefined)?.event === 'token_exchange',
    )
    assert.ok(
      audits.some((line) => line.parentId === spanA),
      'App A exchange audited in the trace',
    )
    assert.ok(
      audits.some((line) => spansB.has(String(line.parentId))),
      'App B exchange audited in the trace',
    )
    for (const line of audits) {
      assert.match(String(line.spanId), /^[0-9a-f]{16}$/)
      assert.ok(
        line.spanId !== spanA && !spansB.has(String(line.spanId)),
        'the IdP has its own span',
      )
    }
    // The services' own audit lines of the calls (App B's and App C's service APIs).
    assert.ok(
      appB.some((line) => line.audit !== undefined),
      'App B audit line in the trace',
    )
    assert.ok(
      appC.some((line) => line.audit !== undefined),
      'App C audit line in the trace',
    )
  })
})
