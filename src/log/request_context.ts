/**
 * The request id and W3C trace context (Trace Context §3.2 `traceparent`) of each request, for
 * every log line it causes and every call it makes, so one user action can be followed across
 * App A → App B → App C and their token requests:
 *
 * - a well-formed `x-request-id` from the caller (a load balancer, the previous hop) is kept,
 *   otherwise a random one is made;
 * - each request is its own span: a fresh `spanId`; the caller's well-formed `traceparent` gives
 *   the `traceId` and the `parentId` (the caller's span), otherwise a new trace starts here;
 * - `registerTraceContext(app)` runs the request's handlers inside its context
 *   (AsyncLocalStorage); every `fetch` made there carries `traceparent` (this span as the parent)
 *   and `x-request-id` (through undici's `undici:request:create` diagnostics channel, so the
 *   token requests of openid-client and the client kit are covered too);
 * - the request's own logger is bound to `reqId`, `traceId`, `spanId`, `parentId`; lines logged
 *   through any other logger while the request runs (the audit lines) get the same fields from
 *   the logger's mixin (logger.ts).
 *
 * Anything malformed is ignored, never echoed into a log or a header.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomFillSync, randomUUID } from 'node:crypto'
import { subscribe } from 'node:diagnostics_channel'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
/** version-traceid-parentid-flags; an all-zero trace or parent id is invalid. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export interface TraceContext {
  readonly traceId: string
  readonly parentId: string
}

/** The trace fields of one request's log lines. */
export interface TraceFields {
  readonly reqId: string
  readonly traceId: string
  readonly spanId: string
  /** The caller's span, when the caller sent a `traceparent`. */
  readonly parentId?: string
}

/** One request's trace: its log fields and what its outgoing calls send. */
export interface RequestTrace {
  readonly fields: TraceFields
  /** `traceparent` of the calls this request makes: this span as their parent. */
  readonly traceparent: string
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return typeof value === 'string' ? value.trim() : undefined
}

export function requestIdOf(req: IncomingMessage): string {
  const given = header(req, 'x-request-id')
  return given !== undefined && REQUEST_ID.test(given) ? given : randomUUID()
}

export function traceContextOf(req: IncomingMessage): TraceContext | undefined {
  const match = TRACEPARENT.exec(header(req, 'traceparent') ?? '')
  if (!match || match[1] === 'ff') return undefined
  const [, , traceId, parentId] = match
  if (/^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined
  return { traceId: traceId!, parentId: parentId! }
}

/** Bytes of one request's ids: an 8-byte span id and a 16-byte trace id. */
const TRACE_ID_BYTES = 24
/**
 * Random bytes for 256 requests' ids, refilled when used up: one CSPRNG call per 256 requests
 * instead of one per request (as node's own `randomUUID` pools its entropy).
 */
const tracePool = Buffer.alloc(TRACE_ID_BYTES * 256)
let tracePoolOffset = tracePool.length

/** 48 random hex digits, never handed out twice. */
function randomTraceHex(): string {
  if (tracePoolOffset === tracePool.length) {
    randomFillSync(tracePool)
    tracePoolOffset = 0
  }
  const start = tracePoolOffset
  tracePoolOffset += TRACE_ID_BYTES
  return tracePool.toString('hex', start, tracePoolOffset)
}

const TRACE = Symbol('onbehalf.requestTrace')
type TracedRequest = IncomingMessage & { [TRACE]?: RequestTrace }

/** The request's trace, made once per request (a new span, in the caller's trace if it sent one). */
export function requestTraceOf(req: IncomingMessage, reqId: string): RequestTrace {
  const traced = req as TracedRequest
  const known = traced[TRACE]
  if (known !== undefined) return known
  const caller = traceContextOf(req)
  const random = randomTraceHex()
  const traceId = caller?.traceId ?? random.slice(16)
  const spanId = random.slice(0, 16)
  const trace: RequestTrace = Object.freeze({
    fields: Object.freeze(
      caller === undefined
        ? { reqId, traceId, spanId }
        : { reqId, traceId, spanId, parentId: caller.parentId },
    ),
    traceparent: `00-${traceId}-${spanId}-01`,
  })
  traced[TRACE] = trace
  return trace
}

const storage = new AsyncLocalStorage<RequestTrace>()

/** The trace of the request whose handler is running, if any. */
export function currentTrace(): RequestTrace | undefined {
  return storage.getStore()
}

interface UndiciRequest {
  addHeader(name: string, value: string): unknown
}

let fetchTracing = false

/** Every fetch made inside a request's context carries its trace (installed once per process). */
function traceOutgoingFetches(): void {
  if (fetchTracing) return
  fetchTracing = true
  subscribe('undici:request:create', (message) => {
    const trace = storage.getStore()
    if (trace === undefined) return
    const request = (message as { request: UndiciRequest }).request
    request.addHeader('traceparent', trace.traceparent)
    request.addHeader('x-request-id', trace.fields.reqId)
  })
}

/**
 * Runs every request of `app` inside its trace context. Register it before any other plugin
 * (before @fastify/middie on the IdP): the body parser's continuation is re-entered at
 * preValidation, so handlers after a body see the context too.
 */
export function registerTraceContext(app: FastifyInstance): void {
  traceOutgoingFetches()
  const enter = (
    request: { raw: IncomingMessage; id: string },
    _reply: unknown,
    done: () => void,
  ) => storage.run(requestTraceOf(request.raw, request.id), done)
  app.addHook('onRequest', enter)
  app.addHook('preValidation', enter)
}

/**
 * Runs `fn` inside the trace context of a request that Fastify does not handle (the STS's lean
 * token path): the same request id and span as `registerTraceContext` would give it.
 */
export function runInRequestTrace<T>(req: IncomingMessage, fn: () => T): T {
  return storage.run(requestTraceOf(req, requestIdOf(req)), fn)
}
