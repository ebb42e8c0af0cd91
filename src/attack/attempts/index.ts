/**
 * Every attempt the lab runs, in the order it runs them (and the report lists them). Adding an
 * attempt: one file in this folder exporting an `Attempt` (types.ts), and its line in ATTEMPTS
 * (a transaction-token attempt: a `TxnAttempt`, its line in TXN_ATTEMPTS).
 */
import type { Attempt, TxnAttempt } from '../types.js'
import { federationForgedAssertion } from './federation_forged_assertion.js'
import { federationStolenTokenNoSecret } from './federation_stolen_token_no_secret.js'
import { m2mHeaderForgery } from './m2m_header_forgery.js'
import { rfc8693DelegationVanish } from './rfc8693_delegation_vanish.js'
import { rfc8693DpopBindingStripping } from './rfc8693_dpop_binding_stripping.js'
import { rfc8693DpopStolenBoundToken } from './rfc8693_dpop_stolen_bound_token.js'
import { rfc8693ForeignAudience } from './rfc8693_foreign_audience.js'
import { rfc8693HeaderForgery } from './rfc8693_header_forgery.js'
import { rfc8693NonObjectAct } from './rfc8693_non_object_act.js'
import { rfc8693SelfSignedSubject } from './rfc8693_self_signed_subject.js'
import { rfc8693StolenTokenNoSecret } from './rfc8693_stolen_token_no_secret.js'
import { rfc8693TamperedSubject } from './rfc8693_tampered_subject.js'
import { txnAlteredContext } from './txn_altered_context.js'
import { txnReplayExpired } from './txn_replay_expired.js'
import { txnReplayForeignDomain } from './txn_replay_foreign_domain.js'
import { txnSentAsBearer } from './txn_sent_as_bearer.js'
import { txnWrongWorkload } from './txn_wrong_workload.js'

export const ATTEMPTS: readonly Attempt[] = Object.freeze([
  m2mHeaderForgery,
  rfc8693HeaderForgery,
  rfc8693SelfSignedSubject,
  rfc8693TamperedSubject,
  rfc8693ForeignAudience,
  rfc8693StolenTokenNoSecret,
  rfc8693DpopStolenBoundToken,
  rfc8693DpopBindingStripping,
  rfc8693DelegationVanish,
  rfc8693NonObjectAct,
  federationStolenTokenNoSecret,
  federationForgedAssertion,
])

/**
 * The transaction-token attempts (txn_lab.ts runs them), against a Txn-Token Service and the
 * workloads of its trust domain rather than App A's paths to App B.
 */
export const TXN_ATTEMPTS: readonly TxnAttempt[] = Object.freeze([
  txnWrongWorkload,
  txnReplayExpired,
  txnReplayForeignDomain,
  txnAlteredContext,
  txnSentAsBearer,
])
