/**
 * A non-object `act` copied through (toolhive #6093): the attacker presents a subject token whose
 * `act` is a string, an array, a number or an object without `sub`, hoping the service copies it
 * into the issued token, where a resource server may read it as "no actor" or as someone else.
 * What the attacker can make: its own real token with an edited payload (the IdP's signature
 * kept) and a token signed with a key it made up under the IdP's `kid`. The engine verifies the
 * signature before reading any claim, and refuses any `act`/`may_act` that is not an object with
 * a string `sub` even under a valid signature (test/security/provenance.test.ts signs such tokens
 * with the IdP's own key). The control shows the same request with the untouched token works.
 */
import { forgeSelfSigned, headerKid, tamperPayload } from '../forge.js'
import { decodeClaims } from '../../demo/paths/index.js'
import { exchangeThenRead } from '../token_then_read.js'
import type { Attempt, AttemptStep } from '../types.js'

const SHAPES: readonly [string, unknown][] = [
  ['a string', 'app-a'],
  ['an array', [{ sub: 'app-a' }]],
  ['a number', 1],
  ['an object without sub', { iss: 'https://attacker.example' }],
  ['a nested non-object', { sub: 'app-a', act: 'anyone' }],
]

function isWellFormedAct(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const level = value as Record<string, unknown>
  if (typeof level.sub !== 'string' || level.sub === '') return false
  return level.act === undefined || isWellFormedAct(level.act)
}

export const rfc8693NonObjectAct: Attempt = {
  id: 'rfc8693-non-object-act',
  path: 'rfc8693',
  title: 'Exchange a subject token whose act is not an object',
  holds: 'client-secret',
  goal: (ctx) =>
    `With App A's client secret, exchange ${ctx.config.attacker.username}'s token carrying an act that is a string, an array, a number or has no sub, hoping it is copied into the issued token.`,
  async run(ctx) {
    const control = await exchangeThenRead(
      ctx,
      'control: exchange the untouched token',
      ctx.attackerToken,
    )
    const steps: AttemptStep[] = [...control.steps]
    if (control.answer.status !== 200) {
      return {
        steps,
        verdict: 'LEAKED',
        reason: `the control exchange failed (${control.answer.status}): the attempt proves nothing`,
      }
    }
    const kid = headerKid(ctx.attackerToken)
    const claims = decodeClaims(ctx.attackerToken)
    for (const [shape, act] of SHAPES) {
      for (const [how, token] of [
        ['edited payload', tamperPayload(ctx.attackerToken, { act })],
        ['self-signed', forgeSelfSigned({ ...claims, act }, kid)],
      ] as const) {
        const run = await exchangeThenRead(ctx, `act is ${shape} (${how})`, token)
        steps.push(...run.steps)
        const issued = run.answer.body.access_token
        if (typeof issued === 'string') {
          const copied = decodeClaims(issued).act
          return {
            steps,
            verdict: 'LEAKED',
            reason: `act as ${shape} (${how}) was exchanged${copied !== undefined && !isWellFormedAct(copied) ? ' and copied through' : ''}`,
          }
        }
      }
    }
    return {
      steps,
      verdict: 'BLOCKED',
      reason: `every subject with a malformed act was refused (${SHAPES.length * 2} requests, none minted)`,
    }
  },
}
