/**
 * The Txn-Token Service policy (draft-ietf-oauth-transaction-tokens-10 §13.10, "TTS Issuance
 * Policies"): the one trust domain this service issues for, how long its tokens live, how often a
 * token may be replaced, and which workloads may ask, for which purposes (`scope`). Off for every
 * workload unless its block switches it on. Validated once; a fault is a `TypeError` naming the
 * field, at start-up.
 *
 * @example
 * ```ts
 * const policy = createTxnTokenPolicy({
 *   issuer: 'https://sts.example',
 *   trustDomain: 'onbehalf.local',
 *   workloads: { 'app-b': { enabled: true, scopes: ['activity:write'] } },
 * })
 * ```
 */
import { z } from 'zod'
import { SCOPE_TOKEN } from '../syntax.js'
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../types.js'

const scopeToken = z.string().regex(SCOPE_TOKEN, 'must be an RFC 6749 scope-token')

/** One workload's `txnToken` block. */
export const txnWorkloadPolicySchema = z.object({
  /** Off unless switched on (§13.10: a TTS need not issue to every workload that asks). */
  enabled: z.boolean().default(false),
  /** The purposes this workload may put in a txn token (§9.2.1); never beyond the subject's. */
  scopes: z.array(scopeToken).default([]),
  /** May present a txn token to obtain a replacement that adds context (§13.15). */
  mayReplace: z.boolean().default(false),
})

/** The service-wide settings (the STS file's `txnTokens` section). */
export const txnTokenSettingsSchema = z.object({
  /**
   * The trust domain: `aud` of every txn token (§9.2) and the only `audience` a request may name
   * (§11.1). Visible ASCII, e.g. `onbehalf.local` or a URN.
   */
  trustDomain: z.string().regex(/^[\x21-\x7E]{1,255}$/, 'must be 1-255 visible ASCII characters'),
  /** Lifetime of a txn token, seconds (§6: minutes or less; onbehalf caps it at 5 minutes). */
  lifetimeSeconds: z.number().int().min(1).max(300).default(60),
  /** Most replacements of one transaction's token (§13.15: SHOULD limit). */
  maxReplacements: z.number().int().min(0).max(10).default(3),
  /** Largest `request_context` / `request_details`, in characters of JSON. */
  maxContextLength: z.number().int().min(2).max(4096).default(1024),
  /** Tolerance for the subject access token's times (its `exp` is still checked, §6). */
  clockSkewSeconds: z.number().int().min(0).max(300).default(30),
})

export type TxnTokenSettingsInput = z.input<typeof txnTokenSettingsSchema>
export type TxnWorkloadPolicyInput = z.input<typeof txnWorkloadPolicySchema>

export interface TxnWorkloadPolicy {
  readonly clientId: string
  readonly enabled: boolean
  readonly scopes: readonly string[]
  readonly mayReplace: boolean
}

export interface TxnTokenPolicy {
  /** `iss` of txn tokens: the service that signs them (§9.2 `iss`, §13.16). */
  readonly issuer: string
  readonly trustDomain: string
  readonly lifetimeSeconds: number
  readonly maxReplacements: number
  readonly maxContextLength: number
  readonly clockSkewSeconds: number
  readonly limits: RequestLimits
  /** Keyed by client_id. */
  readonly workloads: ReadonlyMap<string, TxnWorkloadPolicy>
}

export interface TxnTokenPolicyInput extends TxnTokenSettingsInput {
  readonly issuer: string
  readonly workloads: Readonly<Record<string, TxnWorkloadPolicyInput | undefined>>
  readonly limits?: RequestLimits
}

export function createTxnTokenPolicy(input: TxnTokenPolicyInput): TxnTokenPolicy {
  if (typeof input?.issuer !== 'string' || input.issuer === '') {
    throw new TypeError('txn token policy: issuer: is required')
  }
  const settings = txnTokenSettingsSchema.safeParse(input)
  if (!settings.success) {
    const issue = settings.error.issues[0]!
    throw new TypeError(`txn token policy: ${issue.path.join('.')}: ${issue.message}`)
  }
  const workloads = new Map<string, TxnWorkloadPolicy>()
  for (const [clientId, block] of Object.entries(input.workloads ?? {})) {
    if (block === undefined) continue
    const parsed = txnWorkloadPolicySchema.safeParse(block)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      throw new TypeError(
        `txn token policy: workloads.${clientId}.${issue.path.join('.')}: ${issue.message}`,
      )
    }
    workloads.set(
      clientId,
      Object.freeze({
        clientId,
        enabled: parsed.data.enabled,
        scopes: Object.freeze([...new Set(parsed.data.scopes)]),
        mayReplace: parsed.data.mayReplace,
      }),
    )
  }
  return Object.freeze({
    issuer: input.issuer,
    ...settings.data,
    limits: Object.freeze({ ...(input.limits ?? DEFAULT_REQUEST_LIMITS) }),
    workloads,
  })
}
