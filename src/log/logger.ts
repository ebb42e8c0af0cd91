/**
 * Structured logging (pino). Tokens and secrets never reach a log: code logs token identifiers
 * (`jti`), never token values, and as defence in depth the fields named in `SENSITIVE_FIELDS` are
 * censored where a secret can realistically sit:
 *
 * - a top-level field of a line or of a child logger's bindings (`{ client_secret }`): pino's
 *   `redact` with literal top-level paths, which costs one property lookup per field;
 * - a field one level down (`{ body: { subject_token } }`, `{ err: { password } }`);
 * - any field of a `headers` object at the top level or one level down (`{ req: { headers } }`,
 *   `{ res: { headers: { 'set-cookie' } } }`), header names compared case-insensitively.
 *
 * The last two are `censorNestedFields`, a pino `formatters.log` hook: one pass over the line's
 * fields and their own fields, and a copy only of the objects it censors (the caller's objects are
 * never changed). Deeper levels are not searched. The earlier configuration walked 65 pino redact
 * paths with `*.x` and `*.*.x` wildcards on every line, which cost as much as an ES256 signature
 * per audit line (docs/performance.md; `node --import tsx bench/redaction.ts` measures both).
 */
import type { FastifyBaseLogger } from 'fastify'
import type { FastifyChildLoggerFactory } from 'fastify/types/logger.js'
import type { IncomingMessage } from 'node:http'
import { requestIdOf, traceContextOf } from './request_context.js'
import { requestLogSerializer } from './request_serializer.js'
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'

export type { Logger }

/** Field names whose values are censored (see the rules above). */
export const SENSITIVE_FIELDS: readonly string[] = Object.freeze([
  'access_token',
  'refresh_token',
  'id_token',
  'subject_token',
  'actor_token',
  'client_secret',
  'client_assertion',
  'password',
  'authorization',
  'cookie',
  'set-cookie',
  'token',
  'secret',
])

export const CENSOR = '[redacted]'

const SENSITIVE: ReadonlySet<string> = new Set(SENSITIVE_FIELDS)

/**
 * The same rules as pino redact paths, for a plain pino logger (`pino({ redact: { paths:
 * redactPaths } })`). Header names match case-sensitively here (lower case, as node delivers
 * them), and each line pays for the wildcards: `createLogger` is the fast path.
 */
export const redactPaths: string[] = SENSITIVE_FIELDS.flatMap((field) => [
  field,
  `*.${field}`,
  `*.headers.${field}`,
])

type Fields = Record<string, unknown>

function isSearchable(value: unknown): value is object {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !ArrayBuffer.isView(value)
  )
}

/** A shallow copy with the same prototype; an Error keeps its message and stack for pino's `err` serializer. */
function shallowCopy(value: object): Fields {
  const copy = Object.assign(
    Object.create(Object.getPrototypeOf(value) as object | null),
    value,
  ) as Fields
  if (value instanceof Error) {
    copy.message = value.message
    copy.stack = value.stack
    if (value.cause !== undefined) copy.cause = value.cause
  }
  return copy
}

/**
 * `value` with its sensitive own fields censored, or `value` itself when it has none. `headers`:
 * `value` is a header map (names case-insensitive). `withHeaders`: also search a `headers` field.
 */
function censorFields(value: object, headers: boolean, withHeaders: boolean): object {
  let copy: Fields | undefined
  const fields = value as Fields
  for (const name of Object.keys(value)) {
    const field = fields[name]
    if (field === undefined) continue
    if (SENSITIVE.has(headers ? name.toLowerCase() : name)) {
      copy ??= shallowCopy(value)
      copy[name] = CENSOR
    } else if (withHeaders && name === 'headers' && isSearchable(field)) {
      const censored = censorFields(field, true, false)
      if (censored !== field) {
        copy ??= shallowCopy(value)
        copy[name] = censored
      }
    }
  }
  return copy ?? value
}

/**
 * The pino `formatters.log` hook: censors sensitive fields one level below the top and in
 * `headers` objects down to that level. Returns the line unchanged (the same object) when there is
 * nothing to censor, which is every line our code writes.
 *
 * @example
 * censorNestedFields({ body: { client_secret: 's' } }) // { body: { client_secret: '[redacted]' } }
 */
export function censorNestedFields(line: Fields): Fields {
  let copy: Fields | undefined
  for (const key in line) {
    const value = line[key]
    if (!isSearchable(value) || !Object.hasOwn(line, key)) continue
    const censored = censorFields(value, key === 'headers', true)
    if (censored !== value) {
      copy ??= { ...line }
      copy[key] = censored
    }
  }
  return copy ?? line
}

export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const log = options.formatters?.log
  const settings: LoggerOptions = {
    level: 'info',
    ...options,
    // Literal top-level paths only: pino then checks one property per field, bindings included.
    redact: { paths: [...SENSITIVE_FIELDS], censor: CENSOR },
    formatters: {
      ...options.formatters,
      log: log === undefined ? censorNestedFields : (line) => censorNestedFields(log(line)),
    },
  }
  return destination ? pino(settings, destination) : pino(settings)
}

/**
 * Fastify options for a service: our pino logger (child per component) whose request lines go
 * through `requestLogSerializer`, so codes and tokens in query strings never reach a log; every
 * request's lines carry its `reqId` (the caller's `x-request-id` when well-formed) and, when the
 * caller sent a W3C `traceparent`, its `traceId` and `parentId` (request_context.ts).
 */
export function fastifyLogOptions(
  logger: Logger,
  component: string,
): {
  loggerInstance: FastifyBaseLogger
  genReqId: (req: IncomingMessage) => string
  childLoggerFactory: FastifyChildLoggerFactory
} {
  return {
    loggerInstance: logger.child(
      { component },
      { serializers: { req: requestLogSerializer } },
    ) as FastifyBaseLogger,
    genReqId: requestIdOf,
    childLoggerFactory(parent, bindings, options, rawReq) {
      const trace = traceContextOf(rawReq as IncomingMessage)
      return parent.child(trace ? { ...bindings, ...trace } : bindings, options)
    },
  }
}
