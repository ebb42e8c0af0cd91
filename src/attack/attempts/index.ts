/**
 * Every attempt the lab runs, in the order it runs them (and the report lists them). Adding an
 * attempt: one file in this folder exporting an `Attempt` (types.ts), and its line in ATTEMPTS.
 */
import type { Attempt } from '../types.js'
import { federationForgedAssertion } from './federation_forged_assertion.js'
import { federationStolenTokenNoSecret } from './federation_stolen_token_no_secret.js'
import { m2mHeaderForgery } from './m2m_header_forgery.js'
import { rfc8693DpopBindingStripping } from './rfc8693_dpop_binding_stripping.js'
import { rfc8693DpopStolenBoundToken } from './rfc8693_dpop_stolen_bound_token.js'
import { rfc8693ForeignAudience } from './rfc8693_foreign_audience.js'
import { rfc8693HeaderForgery } from './rfc8693_header_forgery.js'
import { rfc8693SelfSignedSubject } from './rfc8693_self_signed_subject.js'
import { rfc8693StolenTokenNoSecret } from './rfc8693_stolen_token_no_secret.js'
import { rfc8693TamperedSubject } from './rfc8693_tampered_subject.js'

export const ATTEMPTS: readonly Attempt[] = Object.freeze([
  m2mHeaderForgery,
  rfc8693HeaderForgery,
  rfc8693SelfSignedSubject,
  rfc8693TamperedSubject,
  rfc8693ForeignAudience,
  rfc8693StolenTokenNoSecret,
  rfc8693DpopStolenBoundToken,
  rfc8693DpopBindingStripping,
  federationStolenTokenNoSecret,
  federationForgedAssertion,
])
