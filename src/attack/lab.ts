/**
 * The attack lab: plays a compromised App A against a running stack and records, for every
 * attempt, the request sent, the response and a verdict (LEAKED or BLOCKED) with the reason.
 *
 * The attacker holds App A's client secret and its own login (bob); the target is another user's
 * data (alice's todos in App B). The same code runs behind App A's `/attack` page and the
 * `onbehalf attack` command. A run: the attacker signs in → the three paths run as the attacker
 * (what App A does legitimately) → every attempt in attempts/index.ts, one after the other → the
 * blast radius (blast_radius.ts) → the comparison matrix (matrix.ts), computed from the report.
 *
 * What is recorded never holds a raw token or secret (record.ts).
 *
 * @example
 * ```ts
 * const report = await runAttackLab({ issuer, serviceUrl, clientId, clientSecret, redirectUri,
 *   audience: 'app-b', scope: 'todos:read', attacker: { username: 'bob', password }, victim: { username: 'alice', sub } })
 * ```
 */
import {
  createPathStrategies,
  decodeClaims,
  runPaths,
  type PathTarget,
} from '../demo/paths/index.js'
import { ATTEMPTS } from './attempts/index.js'
import { blastRadiusOf } from './blast_radius.js'
import { loginWithPassword } from './login.js'
import { buildMatrix } from './matrix.js'
import type { AttackLabConfig, AttackReport, Attempt, AttemptResult, LabContext } from './types.js'

async function runAttempt(attempt: Attempt, ctx: LabContext): Promise<AttemptResult> {
  return {
    id: attempt.id,
    path: attempt.path,
    title: attempt.title,
    goal: attempt.goal(ctx),
    holds: attempt.holds,
    ...(await attempt.run(ctx)),
  }
}

/** Runs the three paths as the attacker, then every attempt, and computes the matrix. */
export async function runAttackLab(config: AttackLabConfig): Promise<AttackReport> {
  const issuer = config.issuer.replace(/\/+$/, '')
  const tokenEndpoint = `${issuer}/token`
  const target: PathTarget = {
    tokenEndpoint,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    audience: config.audience,
    serviceUrl: config.serviceUrl.replace(/\/+$/, ''),
    scope: config.scope,
    ...(config.fetch ? { fetch: config.fetch } : {}),
  }
  const attackerToken = await loginWithPassword({
    issuer,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    redirectUri: config.redirectUri,
    username: config.attacker.username,
    password: config.attacker.password,
    scope: `openid ${config.scope}`,
    ...(config.fetch ? { fetch: config.fetch } : {}),
  })
  const attackerSub = String(decodeClaims(attackerToken).sub ?? '')
  const ctx: LabContext = { config, target, tokenEndpoint, attackerToken, attackerSub }

  const paths = await runPaths(createPathStrategies(target), { userAccessToken: attackerToken })
  const results: AttemptResult[] = []
  for (const attempt of ATTEMPTS) results.push(await runAttempt(attempt, ctx))

  const blastRadius = blastRadiusOf(paths, results, config, attackerSub)
  return Object.freeze({
    ranAt: new Date().toISOString(),
    issuer,
    serviceUrl: target.serviceUrl,
    attacker: config.attacker.username,
    victim: config.victim.username,
    paths,
    attempts: results,
    blastRadius,
    matrix: buildMatrix(paths, results, blastRadius),
  })
}
