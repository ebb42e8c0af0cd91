/**
 * The attack lab's settings from the validated environment (shared by `onbehalf attack` and App A's
 * /attack page): App A's client, the attacker's login and the victim, whose `sub` is looked up in
 * the users file (a compromised App A knows its users' subs from their sign-ins).
 */
import type { Env } from '../config/env.js'
import { loadUserDirectory } from '../idp/users.js'
import type { AttackLabConfig } from './lab.js'

export interface AttackLabOverrides {
  readonly issuer?: string
  readonly appAUrl?: string
  readonly appBUrl?: string
  readonly attacker?: string
  readonly password?: string
  readonly victim?: string
}

export function attackLabConfigFrom(env: Env, overrides: AttackLabOverrides = {}): AttackLabConfig {
  const victimName = overrides.victim ?? env.ATTACK_VICTIM
  const victim = loadUserDirectory(env.USERS_FILE).findByUsername(victimName)
  if (!victim) throw new Error(`victim "${victimName}" is not in ${env.USERS_FILE}`)
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
    victim: { username: victim.username, sub: victim.sub },
  }
}
