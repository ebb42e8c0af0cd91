/**
 * parse: form parameters → `ExchangeRequest` (RFC 8693 §2.1). Syntax only, nothing is verified.
 *
 * Order follows Spring Authorization Server's converter: grant_type → resource → audience → scope →
 * requested_token_type → subject_token → subject_token_type → actor_token → actor_token_type →
 * actor coupling. Only `audience` and `resource` may repeat. A present but oversized value is
 * refused, never dropped (lesson S4). An empty string counts as missing.
 *
 * Token types: onbehalf accepts `access_token` and `jwt` (a JWT access token is both) as subject,
 * actor and requested type. `id_token`, `refresh_token`, `saml1`, `saml2` and unknown URIs answer
 * `invalid_request` — our mapping uses invalid_request, not RFC 8693's `unsupported_token_type`.
 * Error descriptions name only the parameter; the precise reason goes to `detail`.
 *
 * @example
 * ```ts
 * const request = parseExchangeRequest(body, DEFAULT_REQUEST_LIMITS)
 * ```
 */
import { InvalidRequest, UnsupportedGrantType } from '../errors.js'
import { checkAudienceValue, isResourceUri, malformed, parseScope, readSingle } from '../syntax.js'
import {
  TOKEN_TYPE,
  type AcceptedTokenType,
  type GrantParams,
  type RequestLimits,
} from '../types.js'
import { GRANT_TYPE_TOKEN_EXCHANGE, type DpopRequest, type ExchangeRequest } from './types.js'

const ACCEPTED_TOKEN_TYPES: ReadonlySet<string> = new Set([TOKEN_TYPE.ACCESS_TOKEN, TOKEN_TYPE.JWT])
const KNOWN_TOKEN_TYPES: ReadonlySet<string> = new Set(Object.values(TOKEN_TYPE))

export function parseExchangeRequest(
  params: GrantParams,
  limits: RequestLimits,
  dpop?: DpopRequest,
): ExchangeRequest {
  const grantType = readSingle(params, 'grant_type', limits.maxParameterLength)
  if (grantType === undefined) throw malformed('grant_type', 'is missing', 'grant_type missing')
  if (grantType !== GRANT_TYPE_TOKEN_EXCHANGE) {
    throw new UnsupportedGrantType({ detail: 'grant_type is not token-exchange' })
  }

  const resources = readMany(params, 'resource', limits)
  for (const resource of resources) checkResourceUri(resource)

  const audiences = readMany(params, 'audience', limits)
  for (const audience of audiences) checkAudienceValue(audience)

  const scope = readSingle(params, 'scope', limits.maxParameterLength)
  const scopes = scope === undefined ? undefined : parseScope(scope, limits.maxScopes)

  const requestedTokenType =
    readTokenType(params, 'requested_token_type', limits) ?? TOKEN_TYPE.ACCESS_TOKEN

  const subjectToken = readSingle(params, 'subject_token', limits.maxTokenLength)
  if (subjectToken === undefined) throw malformed('subject_token', 'is missing', 'missing')
  const subjectTokenType = readTokenType(params, 'subject_token_type', limits)
  if (subjectTokenType === undefined) throw malformed('subject_token_type', 'is missing', 'missing')

  const actorToken = readSingle(params, 'actor_token', limits.maxTokenLength)
  const actorTokenType = readTokenType(params, 'actor_token_type', limits)
  // RFC 8693 §2.1: actor_token_type is REQUIRED with actor_token and MUST NOT be sent without it.
  if (actorToken !== undefined && actorTokenType === undefined) {
    throw malformed('actor_token_type', 'is missing', 'actor_token sent without actor_token_type')
  }
  if (actorToken === undefined && actorTokenType !== undefined) {
    throw malformed('actor_token', 'is missing', 'actor_token_type sent without actor_token')
  }

  const request = {
    grantType: GRANT_TYPE_TOKEN_EXCHANGE,
    resources,
    audiences,
    scopes,
    requestedTokenType,
    subjectToken,
    subjectTokenType,
    actorToken,
    actorTokenType,
    dpop,
  } as const
  return Object.freeze(request) as ExchangeRequest
}

/** `audience` and `resource` may repeat (RFC 8693 §2.1); duplicates collapse, empties are refused. */
function readMany(params: GrantParams, name: string, limits: RequestLimits): readonly string[] {
  const raw = params[name]
  if (raw === undefined || raw === '') return Object.freeze([])
  const values = typeof raw === 'string' ? [raw] : raw
  if (values.length > limits.maxAudiences) {
    throw malformed(
      name,
      'has too many values',
      `${values.length} values, limit ${limits.maxAudiences}`,
    )
  }
  for (const value of values) {
    if (value === '') throw malformed(name, 'is malformed', 'empty value among repeated values')
    if (value.length > limits.maxParameterLength) {
      throw malformed(
        name,
        'is too long',
        `${value.length} characters, limit ${limits.maxParameterLength}`,
      )
    }
  }
  return Object.freeze([...new Set(values)])
}

function readTokenType(
  params: GrantParams,
  name: string,
  limits: RequestLimits,
): AcceptedTokenType | undefined {
  const value = readSingle(params, name, limits.maxParameterLength)
  if (value === undefined) return undefined
  checkTokenTypeSupported(name, value)
  return value
}

/** Only JWT access tokens (`access_token` or `jwt`) are accepted; everything else is invalid_request. */
export function checkTokenTypeSupported(
  name: string,
  value: string,
): asserts value is AcceptedTokenType {
  if (ACCEPTED_TOKEN_TYPES.has(value)) return
  const detail = KNOWN_TOKEN_TYPES.has(value)
    ? `${name} ${value} is not accepted`
    : `${name} is not a known token type URI`
  throw new InvalidRequest({ description: `${name} is not supported`, detail })
}

/** RFC 8707 §2: an absolute URI without fragment; it also says the URI SHOULD NOT carry a query. */
export function checkResourceUri(value: string): void {
  if (!isResourceUri(value)) {
    throw malformed(
      'resource',
      'is malformed',
      'resource is not an absolute URI without query or fragment',
    )
  }
}
