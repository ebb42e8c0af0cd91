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
import { currentTrace, requestIdOf, requestTraceOf } from './request_context.js'
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

/** Marks a request's own logger (bound to its trace already): the mixin adds nothing to it. */
const REQUEST_BOUND = Symbol('onbehalf.requestBoundLogger')
const NO_FIELDS = Object.freeze({})

/**
 * pino `mixin`: a line logged while a request runs, through a logger not bound to that request
 * (the audit sinks log through the service's logger), gets the request's `reqId` and trace
 * fields. No allocation: the request's fields object is frozen and reused.
 */
function traceMixin(_merge: object, _level: number, logger: unknown): object {
  if ((logger as { [REQUEST_BOUND]?: true })[REQUEST_BOUND] === true) return NO_FIELDS
  return currentTrace()?.fields ?? NO_FIELDS
}

export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const log = options.formatters?.log
  const settings: LoggerOptions = {
    level: 'info',
    mixin: traceMixin,
    // Never pino's default (Object.assign onto the mixin's object): the fields object is shared.
    mixinMergeStrategy: (merge: object, mixin: object) =>
      mixin === NO_FIELDS ? merge : { ...mixin, ...merge },
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
 * request's `traceId`, `spanId` and, when the caller sent a W3C `traceparent`, `parentId`
 * (request_context.ts; `registerTraceContext` carries them into outgoing calls).
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
      const { fields } = requestTraceOf(rawReq as IncomingMessage, String(bindings.reqId))
      const child = parent.child({ ...fields, ...bindings }, options)
      ;(child as unknown as { [REQUEST_BOUND]: true })[REQUEST_BOUND] = true
      return child
    },
  }
}
