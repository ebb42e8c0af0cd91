/**
 * The stage outputs of the Txn-Token grant (draft-ietf-oauth-transaction-tokens-10), in the order
 * the runner produces them, branded (`Stage`) like the other grants'. Section numbers below are
 * those of draft-10.
 */
import type { ActClaim, AuthenticatedClient, GrantParams, Stage, VerifiedToken } from '../types.js'
import type { TxnWorkloadPolicy } from './policy.js'

/** §11.1: the Txn-Token Request is an RFC 8693 token exchange. */
export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'

/** §11.1, §16: the token type of a transaction token. */
export const TOKEN_TYPE_TXN_TOKEN = 'urn:ietf:params:oauth:token-type:txn_token'

/** §11.2.1, §11.2.2: subject token types the draft defines; onbehalf does not accept them (yet). */
export const TOKEN_TYPE_SELF_SIGNED = 'urn:ietf:params:oauth:token-type:self_signed'
export const TOKEN_TYPE_UNSIGNED_JSON = 'urn:ietf:params:oauth:token-type:unsigned_json'

/** §12.1: the HTTP header that carries a txn token between workloads (never `Authorization`). */
export const TXN_TOKEN_HEADER = 'txn-token'

/**
 * What a subject token is: an access token the workload received (a new transaction) or a txn
 * token (§13.15: a replacement).
 */
export type TxnSubjectKind = 'access_token' | 'txn_token'

/** What the HTTP edge hands the grant: the form fields and the workload it authenticated. */
export interface TxnTokenInput {
  readonly params: GrantParams
  readonly client: AuthenticatedClient
}

/** A flat JSON object of strings, numbers and booleans (`request_context`, `request_details`). */
export type TxnContext = Readonly<Record<string, string | number | boolean>>

/** parse: syntactically valid, nothing verified yet. */
export type TxnTokenRequest = Stage<
  {
    /** §11.1: the trust domain, exactly one `audience`. */
    readonly audience: string
    /** §11.1: the purpose, required. */
    readonly scopes: readonly string[]
    readonly subjectToken: string
    readonly subjectKind: TxnSubjectKind
    /** §11.1 `request_context`, parsed. */
    readonly requestContext: TxnContext | undefined
    /** §11.1 `request_details`, parsed. */
    readonly requestDetails: TxnContext | undefined
  },
  'txn_token_request'
>

/** authenticate: a confidential workload whose txn-token policy is on, with that policy. */
export type TxnWorkload = Stage<
  AuthenticatedClient & { readonly policy: TxnWorkloadPolicy },
  'txn_workload'
>

/** validate: what the subject token says, once verified. */
export type VerifiedTxnSubject = Stage<
  {
    readonly kind: TxnSubjectKind
    readonly sub: string
    readonly jti: string
    readonly exp: number
    /** The scopes the subject carries: the ceiling of the new token (§13.6). */
    readonly scopes: readonly string[]
    /** RFC 8693 §4.1 delegation chain the subject carries: kept, unchanged, in the txn token. */
    readonly act: ActClaim | undefined
    /** Access token only: whom it was issued to, for the addressed-to check (lesson S2). */
    readonly issuedFor: Pick<VerifiedToken, 'iss' | 'aud' | 'azp' | 'clientId'> | undefined
    /** Replacement only: the txn token's own values, which must not change (§13.15). */
    readonly previous:
      | {
          readonly txn: string
          readonly aud: string
          readonly reqWl: string
          /** Workloads that requested the earlier tokens of this transaction, oldest first. */
          readonly reqWlChain: readonly string[]
          readonly tctx: TxnContext
          readonly rctx: TxnContext
        }
      | undefined
  },
  'verified_txn_subject'
>

export interface VerifiedTxnTokenRequest {
  readonly request: TxnTokenRequest
  readonly workload: TxnWorkload
  readonly subject: VerifiedTxnSubject
}

/** decide: every claim of the txn token, frozen. */
export type TxnTokenDecision = Stage<
  {
    readonly trustDomain: string
    readonly sub: string
    readonly txn: string
    readonly scopes: readonly string[]
    readonly reqWl: string
    readonly reqWlChain: readonly string[]
    readonly tctx: TxnContext
    readonly rctx: TxnContext
    /** The subject's delegation chain, unchanged (provenance over syntax). */
    readonly act: ActClaim | undefined
    readonly iat: number
    readonly exp: number
    readonly subjectJti: string
    readonly replacement: boolean
  },
  'txn_token_decision'
>

/** respond: §11.4, `token_type: N_A`, never a refresh token. */
export interface TxnTokenResponse {
  readonly access_token: string
  readonly issued_token_type: typeof TOKEN_TYPE_TXN_TOKEN
  readonly token_type: 'N_A'
  readonly expires_in: number
  readonly scope: string
}
