/**
 * 4. client authentication — a deliberately invalid request (an exchange with a subject token that
 * is not a token): `invalid_client` means the credentials are wrong; `invalid_request` /
 * `invalid_grant` mean they were accepted and only the token was refused (RFC 6749 §5.2).
 * Keycloak 26.7.3 answers wrong credentials with 401 `unauthorized_client` ("Invalid client or
 * Invalid client credentials"), not `invalid_client`: a 401 counts as refused credentials too.
 */
import { FIX } from '../fixes.js'
import {
  ACCESS_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT,
  errorText,
  networkMessage,
  postForm,
} from '../http.js'
import type { DoctorCheck, OAuthAnswer } from '../types.js'

export function credentialsRefused(probe: OAuthAnswer): boolean {
  const error = String(probe.body.error ?? '')
  return error === 'invalid_client' || (probe.status === 401 && error === 'unauthorized_client')
}

export const clientAuthCheck: DoctorCheck = {
  id: 'client-auth',
  title: 'client authentication',
  reportedWhenSkipped: true,
  async run(context) {
    const { options, wantsRfc8693 } = context
    const base = { id: this.id, title: this.title, required: true }
    const form: Record<string, string> = wantsRfc8693
      ? {
          grant_type: TOKEN_EXCHANGE_GRANT,
          subject_token: 'onbehalf-doctor-not-a-token',
          subject_token_type: ACCESS_TOKEN_TYPE,
          audience: options.audience,
        }
      : { grant_type: 'refresh_token', refresh_token: 'onbehalf-doctor-not-a-token' }
    let probe: OAuthAnswer
    try {
      probe = await postForm(options, context.tokenEndpoint!, form, true)
    } catch (error) {
      return {
        results: [
          {
            ...base,
            status: 'fail',
            detail: `token endpoint: ${networkMessage(error)}`,
            fix: FIX.reach(options.idp, options.issuer),
          },
        ],
        halt: 'needs the token endpoint',
      }
    }
    context.probe = probe
    context.badCredentials = credentialsRefused(probe)
    const error = String(probe.body.error ?? '')
    const description = String(probe.body.error_description ?? '')
    const what = `probe (${wantsRfc8693 ? 'exchange with an invalid subject token' : 'refresh with an invalid token'}) → ${errorText(probe)}`
    if (context.badCredentials) {
      return {
        results: [
          {
            ...base,
            status: 'fail',
            detail: `${what}: bad client credentials`,
            fix: /public client/i.test(description)
              ? `make ${options.clientId} a confidential client (Client authentication on); public clients may not exchange tokens`
              : FIX.badClient(options.idp, options.clientId),
          },
        ],
      }
    }
    if (probe.status >= 500 || probe.status === 200 || !error) {
      return {
        results: [
          {
            ...base,
            status: 'fail',
            detail: `${what}: unexpected answer`,
            fix: 'the token endpoint should refuse an invalid token with an OAuth error; check the IdP logs',
          },
        ],
      }
    }
    return {
      results: [
        {
          ...base,
          status: 'pass',
          detail: `${what}: credentials accepted, only the token refused`,
        },
      ],
    }
  },
}
