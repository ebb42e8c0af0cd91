/** 3. client auth methods — `token_endpoint_auth_methods_supported` holds `client_secret_basic` (RFC 8414 §2 default). */
import type { DoctorCheck } from '../types.js'

export const authMethodsCheck: DoctorCheck = {
  id: 'auth-methods',
  title: 'client authentication methods',
  reportedWhenSkipped: true,
  async run({ metadata }) {
    const methods = metadata?.token_endpoint_auth_methods_supported ?? ['client_secret_basic']
    const base = { id: this.id, title: this.title, required: true }
    return {
      results: [
        methods.includes('client_secret_basic')
          ? {
              ...base,
              status: 'pass',
              detail: `client_secret_basic supported (${methods.join(', ')})`,
            }
          : {
              ...base,
              status: 'fail',
              detail: `client_secret_basic not supported (${methods.join(', ')})`,
              fix: 'onbehalf authenticates with client_secret_basic; allow it for the client at the IdP',
            },
      ],
    }
  },
}
