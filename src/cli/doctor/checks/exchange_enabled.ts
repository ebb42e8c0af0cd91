/**
 * 5. exchange enabled — the probe's answer also tells whether the client may use the grant at all
 * (Keycloak: 400 invalid_request "Standard token exchange is not enabled for the requested client").
 */
import { FIX } from '../fixes.js'
import { errorText } from '../http.js'
import type { DoctorCheck } from '../types.js'

export const exchangeEnabledCheck: DoctorCheck = {
  id: 'exchange-enabled',
  title: 'token exchange enabled for the client',
  reportedWhenSkipped: false,
  async run({ options, probe, badCredentials, wantsRfc8693 }) {
    if (!wantsRfc8693 || !probe || badCredentials) return { results: [] }
    const error = String(probe.body.error ?? '')
    const off =
      error === 'unauthorized_client' ||
      error === 'unsupported_grant_type' ||
      /not enabled/i.test(String(probe.body.error_description ?? ''))
    const base = { id: this.id, title: this.title, required: true }
    return {
      results: [
        off
          ? {
              ...base,
              status: 'fail',
              detail: errorText(probe),
              fix: FIX.exchangeOff(options.idp, options.clientId),
            }
          : { ...base, status: 'pass', detail: `${options.clientId} may use the grant` },
      ],
    }
  },
}
