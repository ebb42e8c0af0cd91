/**
 * attackLabConfigFrom: the victim's sub comes from ATTACK_VICTIM_SUB or the caller's lookup, never
 * from a file the lab reads itself; an unknown victim is a configuration error naming the field.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { attackLabConfigFrom } from '../../src/attack/index.js'
import { ConfigError } from '../../src/config/config_error.js'
import { loadEnv } from '../../src/config/env.js'

const ALICE_SUB = 'sub-of-alice'
const env = (extra: Record<string, string> = {}) =>
  loadEnv({ NODE_ENV: 'test', DATA_DIR: '/nonexistent', ...extra })

describe('attackLabConfigFrom', () => {
  test('when ATTACK_VICTIM_SUB is set then it is the victim and no lookup runs', () => {
    const config = attackLabConfigFrom(env({ ATTACK_VICTIM_SUB: ALICE_SUB }), {}, () => {
      throw new Error('lookup must not run')
    })
    assert.deepEqual(config.victim, { username: 'alice', sub: ALICE_SUB })
    assert.deepEqual(config.attacker, { username: 'bob', password: 'changeme' })
  })

  test('when ATTACK_VICTIM_SUB is unset then the caller’s lookup gives the sub', () => {
    const asked: string[] = []
    const config = attackLabConfigFrom(env(), {}, (username) => {
      asked.push(username)
      return username === 'alice' ? ALICE_SUB : undefined
    })
    assert.deepEqual(asked, ['alice'])
    assert.equal(config.victim.sub, ALICE_SUB)
  })

  test('when another victim is asked for then ATTACK_VICTIM_SUB (alice’s) is not used', () => {
    const config = attackLabConfigFrom(
      env({ ATTACK_VICTIM_SUB: ALICE_SUB }),
      { victim: 'demo', attacker: 'eve', password: 'pw' },
      (username) => (username === 'demo' ? 'sub-of-demo' : undefined),
    )
    assert.deepEqual(config.victim, { username: 'demo', sub: 'sub-of-demo' })
    assert.deepEqual(config.attacker, { username: 'eve', password: 'pw' })
  })

  test('when neither knows the victim then ConfigError naming ATTACK_VICTIM_SUB', () => {
    for (const lookup of [undefined, () => undefined]) {
      assert.throws(
        () => attackLabConfigFrom(env(), {}, lookup),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.problems.length === 1 &&
          /^ATTACK_VICTIM_SUB: .*"alice"/.test(error.problems[0]!),
      )
    }
  })

  test('App A’s client and URLs come from the environment, overrides win', () => {
    const config = attackLabConfigFrom(
      env({ ATTACK_VICTIM_SUB: ALICE_SUB, APP_A_URL: 'http://127.0.0.1:4001/' }),
      { appBUrl: 'http://127.0.0.1:4002', issuer: 'http://127.0.0.1:4000' },
    )
    assert.equal(config.issuer, 'http://127.0.0.1:4000')
    assert.equal(config.serviceUrl, 'http://127.0.0.1:4002')
    assert.equal(config.redirectUri, 'http://127.0.0.1:4001/auth/callback')
    assert.equal(config.clientId, 'app-a')
    assert.equal(config.audience, 'app-b')
    assert.equal(config.forbiddenAudience, 'app-a')
  })
})
