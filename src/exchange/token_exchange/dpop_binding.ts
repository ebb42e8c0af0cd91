/**
 * Sender-constrained exchange (RFC 9449 across RFC 8693), in the three stages that see it:
 *
 *   parse     the one `DPoP` header, if any (two are `invalid_dpop_proof`)       readDpopProof
 *   validate  the proof: signature with its own key, `htm` POST, `htu` the token endpoint, `iat`
 *             window, `jti` first use (the shared checks, src/jwt/dpop_proof.ts)  validateDpopProof
 *   decide    the binding rule                                                    decideBinding
 *
 * The binding rule follows the working group's reading (reported by Connect2id): one proof covers
 * the presented tokens and binds the issued one.
 * - A presented token bound to a key (`cnf.jkt`) is exchangeable only with a proof from that key,
 *   whichever parameters are sent: no proof, or a proof from another key, is `invalid_dpop_proof`
 *   and nothing is minted. So a binding can never be stripped by exchanging (Keycloak #50963).
 * - A token whose confirmation is not `jkt` (mTLS, malformed) is refused: it is bound to something
 *   the engine cannot check.
 * - A bound subject token issued to another client is exchangeable only when the requester's policy
 *   names that client in `dpop.boundSubjectsFrom` (Keycloak #51014 refuses it outright).
 * - With a proof the issued token is bound to the proof's key (the requester's), `token_type: DPoP`.
 * - A client whose policy says `dpop.required` exchanges only with a proof.
 */
import {
  InvalidDpopProof,
  InvalidRequest,
  SUBJECT_TOKEN_INVALID,
  TemporarilyUnavailable,
  UseDpopNonce,
} from '../errors.js'
import type { DpopNonces } from '../../jwt/dpop_nonce.js'
import {
  DpopProofError,
  DpopReplayUnavailable,
  readDpopHeader,
  verifyDpopProof,
  type DpopReplayCache,
} from '../../jwt/dpop_proof.js'
import type { EpochSeconds } from '../../time/clock.js'
import type { VerifiedToken } from '../types.js'
import type {
  DpopInput,
  DpopRequest,
  ExchangeClient,
  ExchangeRequest,
  VerifiedProof,
} from './types.js'

export interface DpopBindingDeps {
  /** Proofs already seen: per process, or shared by every instance (Redis). */
  readonly replay: DpopReplayCache
  /** Seconds a proof is accepted around its `iat`. */
  readonly maxAgeSeconds?: number
  /** The nonces handed out, for clients whose policy says `dpop.nonce` (RFC 9449 §8). */
  readonly nonces?: DpopNonces
}

function invalidProof(detail: string, cause?: unknown): InvalidDpopProof {
  return new InvalidDpopProof({ detail, cause })
}

/** parse: the proof sent with the request, unverified. */
export function readDpopProof(dpop: DpopInput | undefined): DpopRequest | undefined {
  if (dpop === undefined) return undefined
  try {
    const proof = readDpopHeader(dpop.headers)
    return proof === undefined ? undefined : Object.freeze({ proof, htm: dpop.htm, htu: dpop.htu })
  } catch (err) {
    if (err instanceof DpopProofError) throw invalidProof(`DPoP ${err.message}`, err)
    throw err
  }
}

/**
 * validate: the proof of this request, or `undefined` when none was sent. A client whose policy
 * says `dpop.nonce` must put a recent server nonce in it (`use_dpop_nonce` and a fresh one
 * otherwise); the replay cache is asked last, so a proof refused for its nonce is not spent.
 */
export async function validateDpopProof(
  request: ExchangeRequest,
  client: ExchangeClient,
  deps: DpopBindingDeps,
  now: EpochSeconds,
): Promise<VerifiedProof | undefined> {
  const { dpop } = request
  if (dpop === undefined) return undefined
  const nonces = client.policy.dpop.nonce ? deps.nonces : undefined
  if (client.policy.dpop.nonce && nonces === undefined) {
    throw new TypeError('dpop.nonce is set but the token endpoint has no nonce source')
  }
  try {
    const proof = await verifyDpopProof(dpop.proof, {
      htm: dpop.htm,
      htu: dpop.htu,
      now,
      replay: deps.replay,
      ...(nonces === undefined ? {} : { nonces }),
      ...(deps.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: deps.maxAgeSeconds }),
    })
    return proof as VerifiedProof
  } catch (err) {
    if (err instanceof DpopProofError && err.reason === 'nonce' && nonces !== undefined) {
      throw new UseDpopNonce({
        detail: `DPoP proof nonce ${err.nonce ?? 'missing'} (dpop.nonce)`,
        cause: err,
        nonce: nonces.current(now),
      })
    }
    if (err instanceof DpopProofError) {
      throw invalidProof(`DPoP proof refused (${err.reason}): ${err.message}`, err)
    }
    if (err instanceof DpopReplayUnavailable) {
      // Fail closed (src/limits/redis_dpop_replay.ts): a replay cannot be ruled out.
      throw new TemporarilyUnavailable({ detail: 'DPoP replay cache unavailable', cause: err })
    }
    throw err
  }
}

/** decide: the key the issued token is bound to, or `undefined` for a bearer token. */
export function decideBinding(input: {
  readonly subject: VerifiedToken
  readonly actor: VerifiedToken | undefined
  readonly proof: VerifiedProof | undefined
  readonly client: ExchangeClient
}): string | undefined {
  const { subject, actor, proof, client } = input
  for (const [role, token] of [
    ['subject', subject],
    ['actor', actor],
  ] as const) {
    if (token === undefined || token.jkt === undefined) continue
    if (token.jkt === null) {
      throw new InvalidRequest({
        description: SUBJECT_TOKEN_INVALID,
        detail: `${role} token carries a confirmation (cnf) other than jkt`,
      })
    }
    if (proof === undefined) {
      throw invalidProof(`${role} token is DPoP-bound and no DPoP proof was sent`)
    }
    if (proof.jkt !== token.jkt) {
      throw invalidProof(`DPoP proof key is not the key the ${role} token is bound to`)
    }
  }
  if (subject.jkt !== undefined) {
    const issuedTo = subject.azp ?? subject.clientId
    if (issuedTo !== client.clientId && !client.policy.dpop.boundSubjectsFrom.includes(issuedTo)) {
      throw new InvalidRequest({
        description: SUBJECT_TOKEN_INVALID,
        detail: `DPoP-bound subject token of ${issuedTo}: not in the client's dpop.boundSubjectsFrom`,
      })
    }
  }
  if (proof === undefined && client.policy.dpop.required) {
    throw invalidProof('the client must exchange with a DPoP proof (dpop.required)')
  }
  return proof?.jkt
}
