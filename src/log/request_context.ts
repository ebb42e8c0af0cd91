/**
 * The request id and W3C trace context (`traceparent`, W3C Trace Context §3.2) of an incoming
 * request, for every log line it causes: a well-formed `x-request-id` from the caller (a load
 * balancer sets one) is kept, otherwise a random one is made; a well-formed `traceparent` is
 * logged as `traceId`/`parentId` so one user action can be followed across services. Anything
 * malformed is ignored, never echoed into a log.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
/** version-traceid-parentid-flags; an all-zero trace or parent id is invalid. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export interface TraceContext {
  readonly traceId: string
  readonly parentId: string
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
