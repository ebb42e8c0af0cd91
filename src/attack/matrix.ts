/**
 * The comparison matrix, computed from one lab run — never written by hand: each cell reads the
 * observed path run (token request, decoded token, verdicts) or the attempts' verdicts.
 */
import { TOKEN_EXCHANGE_GRANT } from '../client/token_exchange_client.js'
import type { PathResult } from '../demo/paths/index.js'
import type { AttemptResult, BlastRadius, MatrixRow } from './types.js'

export type { MatrixRow }

export const MATRIX_COLUMNS = Object.freeze([
  ['grantType', 'Grant type'],
  ['rfc8693', 'RFC 8693'],
  ['userBound', 'User bound in token'],
  ['actorRecorded', 'Actor recorded'],
  ['requesterAuthenticated', 'Requester authenticated'],
  ['compromisedAppAReaches', 'Compromised App A reaches'],
  ['stolenUserTokenReaches', 'Stolen user token reaches'],
] as const satisfies readonly (readonly [keyof MatrixRow, string])[])

function stolenTokenCell(attempts: readonly AttemptResult[]): string {
  if (attempts.length === 0) return 'not used by this path (no user token is sent)'
  const leaked = attempts.filter((a) => a.verdict === 'LEAKED')
  if (leaked.length > 0) return 'App B as that user, with no client secret'
  return "nothing without App A's client secret"
}

export function buildMatrix(
  paths: readonly PathResult[],
  attempts: readonly AttemptResult[],
  blastRadius: readonly BlastRadius[],
): MatrixRow[] {
  return paths.map((path) => {
    const request = path.tokenRequest
    const stolen = attempts.filter((a) => a.path === path.id && a.holds === 'stolen-user-token')
    const compromised = attempts.filter((a) => a.path === path.id && a.holds === 'client-secret')
    const radius = blastRadius.find((b) => b.path === path.id)
    const verdicts = path.verdicts
    return {
      path: path.id,
      title: path.title,
      badge: path.badge,
      grantType: request
        ? `${path.grantType} (${request.clientAuth === 'none' ? 'no client auth' : request.clientAuth})`
        : path.grantType,
      rfc8693: request?.grantType === TOKEN_EXCHANGE_GRANT,
      userBound: verdicts ? verdicts.userBound.ok : null,
      actorRecorded: verdicts ? verdicts.actorRecorded.ok : null,
      requesterAuthenticated: verdicts ? verdicts.requesterAuthenticated.ok : null,
      compromisedAppAReaches: radius?.summary ?? 'not observed',
      stolenUserTokenReaches: stolenTokenCell(stolen),
      evidence: [...compromised, ...stolen].map((a) => a.id),
    }
  })
}
