/**
 * The attack lab's vocabulary: its configuration, what an attempt is, and the report it produces
 * (recorded requests, verdicts, blast radius, matrix rows). Types only, so every other module of
 * the lab depends on this one and on nothing above it.
 */
import type { PathBadge, PathId, PathResult, PathTarget } from '../demo/paths/index.js'

export type AttackVerdict = 'LEAKED' | 'BLOCKED'

/** What the attacker needs for an attempt. */
export type AttackerHolds = 'client-secret' | 'stolen-user-token' | 'nothing'

export interface RecordedRequest {
  readonly method: 'GET' | 'POST'
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly form?: Readonly<Record<string, string>>
}

export interface RecordedResponse {
  readonly status: number
  readonly body: Readonly<Record<string, unknown>>
}

export interface AttemptStep {
  readonly label: string
  readonly request: RecordedRequest
  readonly response: RecordedResponse
  /** Decoded claims of tokens sent or received in this step. */
  readonly tokens: readonly { readonly label: string; readonly claims: Record<string, unknown> }[]
}

export interface AttemptResult {
  readonly id: string
  readonly path: PathId
  readonly title: string
  /** What the attacker tries, in one sentence. */
  readonly goal: string
  readonly holds: AttackerHolds
  readonly steps: readonly AttemptStep[]
  readonly verdict: AttackVerdict
  readonly reason: string
  /** Whose data App B served, if any. */
  readonly reachedUser?: string
}

/** What an attempt's run found: the steps it recorded and its verdict. */
export type AttemptOutcome = Pick<AttemptResult, 'steps' | 'verdict' | 'reason' | 'reachedUser'>

export interface AttackLabConfig {
  /** The IdP's issuer URL; its token endpoint is `${issuer}/token`. */
  readonly issuer: string
  /** App B's base URL (its service API). */
  readonly serviceUrl: string
  /** App A's client credentials and a registered redirect URI (for the attacker's login). */
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUri: string
  /** The target service's client_id, e.g. app-b. */
  readonly audience: string
  /** Another configured audience App A's exchange policy does not allow. Default: App A itself. */
  readonly forbiddenAudience?: string
  readonly scope: string
  readonly attacker: { readonly username: string; readonly password: string }
  readonly victim: { readonly username: string; readonly sub: string }
  readonly fetch?: typeof fetch
}

/** What every attempt starts from: the configuration and the attacker's own sign-in. */
export interface LabContext {
  readonly config: AttackLabConfig
  readonly target: PathTarget
  readonly tokenEndpoint: string
  /** The attacker's own App A access token (bob). Stands in for any user token App A holds. */
  readonly attackerToken: string
  readonly attackerSub: string
}

/**
 * One attack attempt, one file in attempts/ (as oidc-provider keeps one grant per file), listed in
 * attempts/index.ts. Its description is data; `run` sends the requests and judges the answers.
 */
export interface Attempt {
  readonly id: string
  readonly path: PathId
  readonly title: string
  readonly holds: AttackerHolds
  /** What the attacker tries, in one sentence, naming this run's attacker and victim. */
  goal(ctx: LabContext): string
  run(ctx: LabContext): Promise<AttemptOutcome>
}

export interface BlastRadius {
  readonly path: PathId
  readonly title: string
  /** Users whose data the compromised App A reached in this run, by username where known. */
  readonly reached: readonly string[]
  /** True when a user was reached without any token of theirs. */
  readonly reachesEveryUser: boolean
  readonly summary: string
}

export interface MatrixRow {
  readonly path: PathId
  readonly title: string
  readonly badge: PathBadge
  /** The grant type and client authentication of the request that produced the token. */
  readonly grantType: string
  readonly rfc8693: boolean
  /** `null` when the path produced no token in this run. */
  readonly userBound: boolean | null
  readonly actorRecorded: boolean | null
  readonly requesterAuthenticated: boolean | null
  readonly compromisedAppAReaches: string
  readonly stolenUserTokenReaches: string
  /** Ids of the attempts the last two cells were computed from. */
  readonly evidence: readonly string[]
}

export interface AttackReport {
  readonly ranAt: string
  readonly issuer: string
  readonly serviceUrl: string
  readonly attacker: string
  readonly victim: string
  /** The three paths run as the attacker's own user (what App A does legitimately). */
  readonly paths: readonly PathResult[]
  readonly attempts: readonly AttemptResult[]
  readonly blastRadius: readonly BlastRadius[]
  readonly matrix: readonly MatrixRow[]
}

/**
 * The transaction-token lab (draft-ietf-oauth-transaction-tokens-10): what txn tokens stop inside
 * one trust domain. The attacker is a compromised App A (its client secret and a user's token) or
 * anyone who captured a txn token in transit inside the domain.
 */
export interface TxnLabConfig {
  /** The Txn-Token Service's token endpoint (the STS). */
  readonly tokenEndpoint: string
  readonly trustDomain: string
  /** A workload of the trust domain that takes `Txn-Token` (POST, JSON body). */
  readonly workloadUrl: string
  /** A workload of another trust domain that takes `Txn-Token` the same way. */
  readonly foreignWorkloadUrl: string
  /** A bearer-token API of the trust domain (App B's `/api/todos`). */
  readonly bearerServiceUrl: string
  /** The compromised App A's credentials at the STS: a client, not a txn-token workload. */
  readonly clientId: string
  readonly clientSecret: string
  /** An access token App A legitimately holds for a user (its own login). */
  readonly userAccessToken: string
  /** Txn tokens captured inside the trust domain: one still live, one whose lifetime has passed. */
  readonly captured: {
    fresh(): Promise<string>
    expired(): Promise<string>
  }
  /** The user whose data the attacker wants (the captured token's `sub` is someone else's). */
  readonly victimSub: string
  readonly fetch?: typeof fetch
}

/** One transaction-token attack attempt, one file in attempts/, listed in TXN_ATTEMPTS. */
export interface TxnAttempt {
  readonly id: string
  readonly path: 'txn-token'
  readonly title: string
  readonly holds: AttackerHolds | 'captured-txn-token'
  goal(config: TxnLabConfig): string
  run(config: TxnLabConfig): Promise<AttemptOutcome>
}

export interface TxnAttackReport {
  readonly ranAt: string
  readonly trustDomain: string
  readonly attempts: readonly (Omit<AttemptResult, 'holds'> & {
    readonly holds: TxnAttempt['holds']
  })[]
}
