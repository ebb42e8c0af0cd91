/**
 * The contract of a grant the engine decides: one folder per grant (`token_exchange/`,
 * `jwt_federation/`, `client_credentials/`) exports one `Grant`, the way oidc-provider's
 * `lib/actions/grants/*.js` export `{ handler, parameters, grantType }`. The grant supplies its
 * stages; the runner (runner.ts) calls them in this order and nothing else does:
 *
 *   parse        → request      syntax only, from the form fields (invalid_request)
 *   authenticate → requester    who asks, and whether that client may use this grant
 *   validate     → verified     every presented token verified (signature, claims, still live)
 *   decide       → decision     the single policy decision; builds no token
 *   mint         → MintRequest  the claims the decision allows, or `undefined` when the token is
 *                               minted elsewhere (client_credentials: oidc-provider signs it)
 *   respond      → response     the success body
 *
 * Each stage takes the previous stage's output, and grants brand those outputs (`Stage<…>` in
 * types.ts), so a stage cannot be skipped: the next one does not compile without its input. A new
 * grant (DPoP-bound exchange, transaction tokens, …) is a new folder with a new `Grant`, run by the
 * same runner under the same audit.
 */
import type { AuditEvent } from './audit.js'
import type { MintRequest } from './mint.js'
import type { EpochSeconds } from '../time/clock.js'

/** The types flowing through one grant's stages. */
export interface GrantStages {
  readonly input: unknown
  readonly request: unknown
  readonly requester: unknown
  readonly verified: unknown
  readonly decision: unknown
  readonly response: unknown
  readonly event: AuditEvent
}

/** Audit fields a stage may add; the runner owns `event`, `outcome`, the error and `issuedJti`. */
export type AuditNote<E extends AuditEvent> = Partial<
  Omit<E, 'event' | 'outcome' | 'clientId' | 'error' | 'reason' | 'issuedJti'>
>

/** What every stage of one call may read and write. */
export interface GrantContext<E extends AuditEvent> {
  /** Whole seconds since the epoch, read once per call. */
  readonly now: EpochSeconds
  /** Adds identifiers to this call's one audit event (never token values or secrets). */
  note(fields: AuditNote<E>): void
}

export interface Grant<S extends GrantStages> {
  /** The audit event this grant writes, one per call. */
  readonly event: S['event']['event']
  /** The `grant_type` it answers. */
  readonly grantType: string
  /** The form parameters it reads (oidc-provider's `parameters`). */
  readonly parameters: ReadonlySet<string>
  /** The ones that may repeat. */
  readonly allowedDuplicateParameters: ReadonlySet<string>
  /** The client the audit event names before anything is checked ('' when none). */
  requesterOf(input: S['input']): string
  parse(input: S['input'], context: GrantContext<S['event']>): S['request']
  authenticate(
    request: S['request'],
    input: S['input'],
    context: GrantContext<S['event']>,
  ): S['requester']
  validate(
    request: S['request'],
    requester: S['requester'],
    context: GrantContext<S['event']>,
  ): S['verified'] | Promise<S['verified']>
  decide(verified: S['verified'], context: GrantContext<S['event']>): S['decision']
  mint(decision: S['decision'], context: GrantContext<S['event']>): MintRequest | undefined
  respond(decision: S['decision'], accessToken: string | undefined): S['response']
}
