/**
 * 2. grant types — is RFC 8693's grant advertised in `grant_types_supported` (or
 * client_credentials, for authentik's JWT federation)? RFC 8414 §2 gives the default when absent.
 */
import { FIX } from '../fixes.js'
import { TOKEN_EXCHANGE_GRANT } from '../http.js'
import type { DoctorCheck } from '../types.js'

export const grantTypesCheck: DoctorCheck = {
  id: 'grant-types',
  title: 'grant types advertised',
  reportedWhenSkipped: true,
  async run({ options, metadata, wantsRfc8693, wantsFederation }) {
    const grants = metadata?.grant_types_supported ?? ['authorization_code', 'implicit']
    const advertisesExchange = grants.includes(TOKEN_EXCHANGE_GRANT)
    const base = { id: this.id, title: this.title }
    if (wantsRfc8693) {
      return {
        results: [
          advertisesExchange
            ? {
                ...base,
                status: 'pass',
                required: true,
                detail: 'token exchange (RFC 8693) is advertised',
              }
            : {
                ...base,
                status: 'fail',
                required: true,
                detail: `token exchange is not in grant_types_supported (${grants.join(', ')})`,
                fix: FIX.grantMissing(options.idp),
              },
        ],
      }
    }
    const federation = grants.includes('client_credentials')
    const fine = federation || !wantsFederation
    return {
      results: [
        {
          ...base,
          status: fine ? 'pass' : 'warn',
          required: false,
          detail: `token exchange ${advertisesExchange ? 'advertised' : 'not advertised'} (not used: ${options.strategies.join(', ')}); client_credentials ${federation ? 'advertised' : 'not advertised'}`,
          fix: fine
            ? undefined
            : "JWT federation uses client_credentials: enable it on App B's provider",
        },
      ],
    }
  },
}
