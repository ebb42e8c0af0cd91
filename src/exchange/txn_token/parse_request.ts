/**
 * parse: form parameters → `TxnTokenRequest` (draft-ietf-oauth-transaction-tokens-10 §11.1, the
 * Txn-Token Request). Syntax only, nothing is verified.
 *
 * Order: grant_type (token-exchange) → requested_token_type (must be txn_token) → audience
 * (required, exactly one: the trust domain) → scope (required: the purpose) → subject_token →
 * subject_token_type → no actor token → request_context, request_details (JSON objects).
 *
 * Subject token types (§11.2): `access_token` (or `jwt`, a JWT access token is both) starts a
 * transaction; `txn_token` asks for a replacement (§13.15). `refresh_token` is refused (§11.2,
 * §13.3: MUST NOT be used). `self_signed` and `unsigned_json` are defined by the draft but not
 * accepted here (docs/txn-tokens.md): a workload of onbehalf always holds the user's token.
 * Every refusal is `invalid_request` naming the parameter; the reason goes to `detail`.
 *
 * `request_context` and `request_details` must be flat JSON objects of strings, numbers and
 * booleans with short keys: the service copies them into `rctx` and `tctx` (§11.3), so it accepts
 * only what it can vouch to be plain data, never a nested structure it cannot bound.
 *
 * @example
 * ```ts
 * const request = parseTxnTokenRequest(body, policy)
 * ```
 */
import { InvalidRequest, UnsupportedGrantType } from '../errors.js'
import { checkAudienceValue, malformed, parseScope, readSingle } from '../syntax.js'
import { TOKEN_TYPE, type GrantParams } from '../types.js'
import type { TxnTokenPolicy } from './policy.js'
import {
  GRANT_TYPE_TOKEN_EXCHANGE,
  TOKEN_TYPE_SELF_SIGNED,
  TOKEN_TYPE_TXN_TOKEN,
  TOKEN_TYPE_UNSIGNED_JSON,
  type TxnContext,
  type TxnSubjectKind,
  type TxnTokenRequest,
} from './types.js'

const SUBJECT_KINDS: ReadonlyMap<string, TxnSubjectKind> = new Map([
  [TOKEN_TYPE.ACCESS_TOKEN, 'access_token'],
  [TOKEN_TYPE.JWT, 'access_token'],
  [TOKEN_TYPE_TXN_TOKEN, 'txn_token'],
])
const KNOWN_TOKEN_TYPES: ReadonlySet<string> = new Set([
  ...Object.values(TOKEN_TYPE),
  TOKEN_TYPE_TXN_TOKEN,
  TOKEN_TYPE_SELF_SIGNED,
  TOKEN_TYPE_UNSIGNED_JSON,
])
// A letter first: no `__proto__`, no surprises for readers of rctx/tctx.
const CONTEXT_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/
const MAX_CONTEXT_MEMBERS = 20

/** True when the request asks for a txn token: the STS routes it to this grant. */
export function isTxnTokenRequest(params: GrantParams): boolean {
  const value = params.requested_token_type
  return typeof value === 'string'
    ? value === TOKEN_TYPE_TXN_TOKEN
    : Array.isArray(value) && value.includes(TOKEN_TYPE_TXN_TOKEN)
}

export function parseTxnTokenRequest(
  params: GrantParams,
  policy: Pick<TxnTokenPolicy, 'limits' | 'maxContextLength'>,
): TxnTokenRequest {
  const { limits } = policy
  const grantType = readSingle(params, 'grant_type', limits.maxParameterLength)
  if (grantType === undefined) throw malformed('grant_type', 'is missing', 'grant_type missing')
  if (grantType !== GRANT_TYPE_TOKEN_EXCHANGE) {
    throw new UnsupportedGrantType({ detail: 'grant_type is not token-exchange' })
  }

  // §11.1: requested_token_type REQUIRED, MUST be txn_token.
  const requested = readSingle(params, 'requested_token_type', limits.maxParameterLength)
  if (requested !== TOKEN_TYPE_TXN_TOKEN) {
    throw malformed(
      'requested_token_type',
      'is not supported',
      'requested_token_type not txn_token',
    )
  }

  // §11.1: audience REQUIRED, the trust domain name: one value.
  const audience = readSingle(params, 'audience', limits.maxParameterLength)
  if (audience === undefined) throw malformed('audience', 'is missing', 'audience missing')
  checkAudienceValue(audience)

  // §11.1: scope REQUIRED, the purpose of the transaction.
  const scope = readSingle(params, 'scope', limits.maxParameterLength)
  if (scope === undefined) throw malformed('scope', 'is missing', 'scope missing')
  const scopes = parseScope(scope, limits.maxScopes)

  const subjectToken = readSingle(params, 'subject_token', limits.maxTokenLength)
  if (subjectToken === undefined) throw malformed('subject_token', 'is missing', 'missing')
  const subjectTokenType = readSingle(params, 'subject_token_type', limits.maxParameterLength)
  if (subjectTokenType === undefined) throw malformed('subject_token_type', 'is missing', 'missing')
  const subjectKind = SUBJECT_KINDS.get(subjectTokenType)
  if (subjectKind === undefined) {
    throw new InvalidRequest({
      description: 'subject_token_type is not supported',
      detail:
        subjectTokenType === TOKEN_TYPE.REFRESH_TOKEN
          ? 'subject_token_type refresh_token: MUST NOT request a txn token (draft §13.3)'
          : KNOWN_TOKEN_TYPES.has(subjectTokenType)
            ? `subject_token_type ${subjectTokenType} is not accepted`
            : 'subject_token_type is not a known token type URI',
    })
  }

  // A txn token is requested by the workload for itself: no actor (§11.1 names none).
  for (const name of ['actor_token', 'actor_token_type']) {
    if (readSingle(params, name, limits.maxTokenLength) !== undefined) {
      throw malformed(name, 'is not supported', `${name} sent in a Txn-Token Request`)
    }
  }
  if (readMany(params, 'resource').length > 0) {
    throw malformed('resource', 'is not supported', 'resource sent in a Txn-Token Request')
  }

  const requestContext = readContext(params, 'request_context', policy.maxContextLength)
  const requestDetails = readContext(params, 'request_details', policy.maxContextLength)

  const request = {
    audience,
    scopes,
    subjectToken,
    subjectKind,
    requestContext,
    requestDetails,
  }
  return Object.freeze(request) as TxnTokenRequest
}

function readMany(params: GrantParams, name: string): readonly string[] {
  const raw = params[name]
  if (raw === undefined || raw === '') return []
  return typeof raw === 'string' ? [raw] : raw.filter((value) => value !== '')
}

/** A flat JSON object of strings, numbers and booleans; `undefined` when absent. */
function readContext(params: GrantParams, name: string, maxLength: number): TxnContext | undefined {
  const raw = readSingle(params, name, maxLength)
  if (raw === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    throw malformed(name, 'is malformed', `${name} is not JSON`)
  }
  return checkFlatContext(name, value)
}

/** Shared with the replacement path, which reads `tctx`/`rctx` back from a verified txn token. */
export function checkFlatContext(name: string, value: unknown): TxnContext {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(name, 'is malformed', `${name} is not a JSON object`)
  }
  const entries = Object.entries(value)
  if (entries.length > MAX_CONTEXT_MEMBERS) {
    throw malformed(name, 'is malformed', `${name} has more than ${MAX_CONTEXT_MEMBERS} members`)
  }
  const context: Record<string, string | number | boolean> = {}
  for (const [key, member] of entries) {
    if (!CONTEXT_KEY.test(key)) {
      throw malformed(name, 'is malformed', `${name} has a member name outside [A-Za-z0-9_.-]`)
    }
    if (
      typeof member !== 'string' &&
      typeof member !== 'boolean' &&
      !(typeof member === 'number' && Number.isFinite(member))
    ) {
      throw malformed(name, 'is malformed', `${name}.${key} is not a string, number or boolean`)
    }
    context[key] = member
  }
  return Object.freeze(context)
}
