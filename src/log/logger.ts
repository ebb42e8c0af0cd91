/**
 * Structured logging (pino). Tokens and secrets never reach a log: known sensitive fields are
 * redacted wherever they appear, and code logs token identifiers (`jti`), never token values.
 */
import type { FastifyBaseLogger } from 'fastify'
import { requestLogSerializer } from './request_serializer.js'
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'

export type { Logger }

/** Field names whose values are censored in every log line, at any of the first nesting levels. */
const SENSITIVE_FIELDS = [
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
]

export const redactPaths = SENSITIVE_FIELDS.flatMap((field) => [
  field,
  `*.${field}`,
  `*.*.${field}`,
  `req.headers.${field}`,
  `res.headers["${field}"]`,
])

export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings: LoggerOptions = {
    level: 'info',
    ...options,
    redact: { paths: redactPaths, censor: '[redacted]' },
  }
  return destination ? pino(settings, destination) : pino(settings)
}

/**
 * Fastify options for a service: our pino logger (child per component) whose request lines go
 * through `requestLogSerializer`, so codes and tokens in query strings never reach a log.
 */
export function fastifyLogOptions(logger: Logger, component: string): { loggerInstance: FastifyBaseLogger } {
  return {
    loggerInstance: logger.child({ component }, { serializers: { req: requestLogSerializer } }) as FastifyBaseLogger,
  }
}
