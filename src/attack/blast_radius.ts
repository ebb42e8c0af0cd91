/**
 * The blast radius of a compromised App A, per path: whose data it reached in this run, and
 * whether it reached a user without any token of theirs (then it reaches every user).
 */
import type { PathResult } from '../demo/paths/index.js'
import type { AttackLabConfig, AttemptResult, BlastRadius } from './types.js'

export function blastRadiusOf(
  paths: readonly PathResult[],
  attempts: readonly AttemptResult[],
  config: AttackLabConfig,
  attackerSub: string,
): BlastRadius[] {
  const names = new Map([
    [attackerSub, config.attacker.username],
    [config.victim.sub, config.victim.username],
  ])
  return paths.map((path) => {
    const reached = new Set<string>()
    if (path.ok && path.serviceCall?.user) reached.add(path.serviceCall.user)
    const compromised = attempts.filter((a) => a.path === path.id && a.holds === 'client-secret')
    for (const attempt of compromised) {
      if (attempt.verdict === 'LEAKED' && attempt.reachedUser) reached.add(attempt.reachedUser)
    }
    const reachesEveryUser = compromised.some(
      (a) => a.verdict === 'LEAKED' && a.reachedUser === config.victim.sub,
    )
    const list = [...reached].map((sub) => names.get(sub) ?? sub)
    const blocked = compromised.filter((a) => a.verdict === 'BLOCKED').length
    return {
      path: path.id,
      title: path.title,
      reached: list,
      reachesEveryUser,
      summary: reachesEveryUser
        ? `every user: it reached ${config.victim.username} with no token of hers (any sub works)`
        : `only users whose live tokens App A holds (reached: ${list.join(', ') || 'nobody'}; ${config.victim.username} blocked in ${blocked} attempt${blocked === 1 ? '' : 's'})`,
    }
  })
}
