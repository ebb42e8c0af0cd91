/**
 * Structured logging (pino). Tokens and secrets never reach a log: known sensitive fields are
 * redacted wherever they appear, and code logs token identifiers (`jti`), never token values.
 */
import { pino, type Logger, type LoggerOptions } from 'pino'

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

export function createLogger(options: { level?: string; name?: string } & LoggerOptions = {}): Logger {
  return pino({
    level: options.level ?? 'info',
    name: options.name,
    redact: { paths: redactPaths, censor: '[redacted]' },
    ...options,
  })
}
