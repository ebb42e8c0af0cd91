/**
 * The attack lab's settings from the validated environment (shared by `onbehalf attack` and App A's
 * /attack page): App A's client, the attacker's login (ATTACK_ATTACKER, ATTACK_ATTACKER_PASSWORD)
 * and the victim (ATTACK_VICTIM). A compromised App A knows its users' subs from their sign-ins;
 * the lab takes the victim's from ATTACK_VICTIM_SUB or, when that is unset, asks the caller's
 * `findUserSub` (the launchers look in the embedded IdP's users file). The lab itself reads no
 * file of the IdP: it reaches the IdP over HTTP only, as an attacker would.
 */
import { ConfigError } from '../config/config_error.js'
import type { Env } from '../config/env.js'
import type { AttackLabConfig } from './types.js'

/** A user's `sub` by username, or undefined when the caller does not know the user. */
export type FindUserSub = (username: string) => string | undefined

export interface AttackLabOverrides {
  readonly issuer?: string
  readonly appAUrl?: string
  readonly appBUrl?: string
  readonly attacker?: string
  readonly password?: string
  readonly victim?: string
}

function victimSubOf(env: Env, victim: string, findUserSub: FindUserSub | undefined): string {
  const configured = victim === env.ATTACK_VICTIM ? env.ATTACK_VICTIM_SUB : undefined
  const sub = configured ?? findUserSub?.(victim)
  if (sub) return sub
  throw new ConfigError([
    `ATTACK_VICTIM_SUB: required: the sub of the victim "${victim}" is unknown${findUserSub ? ' (not in the users file)' : ''}`,
  ])
}

export function attackLabConfigFrom(
  env: Env,
  overrides: AttackLabOverrides = {},
  findUserSub?: FindUserSub,
): AttackLabConfig {
  const victim = overrides.victim ?? env.ATTACK_VICTIM
  const appAUrl = (overrides.appAUrl ?? env.APP_A_URL).replace(/\/+$/, '')
  return {
    issuer: overrides.issuer ?? env.IDP_ISSUER,
    serviceUrl: overrides.appBUrl ?? env.APP_B_URL,
    clientId: env.APP_A_CLIENT_ID,
    clientSecret: env.APP_A_CLIENT_SECRET,
    redirectUri: `${appAUrl}/auth/callback`,
    audience: env.APP_B_CLIENT_ID,
    forbiddenAudience: env.APP_A_CLIENT_ID,
    scope: 'todos:read',
    attacker: {
      username: overrides.attacker ?? env.ATTACK_ATTACKER,
      password: overrides.password ?? env.ATTACK_ATTACKER_PASSWORD,
    },
    victim: { username: victim, sub: victimSubOf(env, victim, findUserSub) },
  }
}
