/** 1. discovery — OpenID Connect Discovery 1.0 §4; the document's `issuer` equals the one asked for. */
import { discoveryUrlOf } from '../../../idp_profiles/index.js'
import { FIX } from '../fixes.js'
import { networkMessage } from '../http.js'
import type { CheckResult, DoctorCheck, Metadata } from '../types.js'

const fail = (detail: string, fix: string): CheckResult => ({
  id: 'discovery',
  title: 'discovery',
  status: 'fail',
  required: true,
  detail,
  fix,
})

export const discoveryCheck: DoctorCheck = {
  id: 'discovery',
  title: 'discovery',
  reportedWhenSkipped: false,
  async run(context) {
    const { options } = context
    const kind = options.idp
    const discoveryUrl = discoveryUrlOf(options.issuer)
    let metadata: Metadata
    try {
      const response = await (options.fetch ?? fetch)(discoveryUrl, {
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      })
      if (!response.ok) {
        const fix = response.status === 404 ? FIX.notFound(kind) : FIX.reach(kind, options.issuer)
        return {
          results: [fail(`${discoveryUrl} answered ${response.status}`, fix)],
          halt: 'needs discovery',
        }
      }
      metadata = (await response.json()) as Metadata
    } catch (error) {
      return {
        results: [
          fail(`${discoveryUrl}: ${networkMessage(error)}`, FIX.reach(kind, options.issuer)),
        ],
        halt: 'needs discovery',
      }
    }
    if (metadata.issuer !== options.issuer || !metadata.token_endpoint) {
      const detail = !metadata.token_endpoint
        ? 'no token_endpoint in the discovery document'
        : `discovery says issuer ${JSON.stringify(metadata.issuer)}, expected ${options.issuer} (tokens would fail issuer checks)`
      return { results: [fail(detail, FIX.issuerMismatch(kind))], halt: 'needs a matching issuer' }
    }
    context.metadata = metadata
    context.tokenEndpoint = metadata.token_endpoint
    return {
      results: [
        {
          id: 'discovery',
          title: 'discovery',
          status: 'pass',
          required: true,
          detail: `issuer ${metadata.issuer}, token endpoint ${metadata.token_endpoint}`,
        },
      ],
    }
  },
}
