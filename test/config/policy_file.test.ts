import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { ConfigError, loadEnv } from '../../src/config/env.js'
import { parsePolicy } from '../../src/config/policy_file.js'

const env = loadEnv({ NODE_ENV: 'test' })
const shipped = () => JSON.parse(readFileSync('config/policy.json', 'utf8'))

function problemsOf(mutate: (policy: any) => void, environment = env): string[] {
  const policy = shipped()
  mutate(policy)
  try {
    parsePolicy(policy, environment, 'http://localhost:9000', 'policy.json')
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error))
    return [...error.problems]
  }
  assert.fail('expected a ConfigError')
}

describe('policy file', () => {
  it('the shipped policy parses: app-a may exchange for app-b, app-b for app-c (the chain A → B → C)', () => {
    const policy = parsePolicy(shipped(), env, 'http://localhost:9000')
    const appA = policy.exchange.clients.get('app-a')!
    assert.equal(appA.enabled, true)
    assert.deepEqual(appA.allowedAudiences, ['app-b'])
    assert.deepEqual(appA.scopeCeiling, ['todos:read', 'activity:read'])
    assert.equal(appA.mode, 'delegation')
    const appB = policy.exchange.clients.get('app-b')!
    assert.equal(appB.enabled, true)
    assert.deepEqual(appB.allowedAudiences, ['app-c'])
    assert.deepEqual(appB.scopeCeiling, ['activity:read', 'activity:write'])
    assert.equal(appB.mode, 'delegation')
    assert.deepEqual(policy.exchange.targets.get('app-b')!.resourceUris, ['http://localhost:3994'])
    assert.deepEqual(policy.exchange.targets.get('app-c')!.resourceUris, ['http://localhost:3995'])
    assert.deepEqual(policy.exchange.targets.get('app-c')!.scopes, [
      'activity:read',
      'activity:write',
    ])
    assert.equal(
      policy.clients.get('app-a')!.clientSecret,
      env.APP_A_CLIENT_SECRET,
      'secret resolved from the environment',
    )
  })

  it('an allowed audience that is not a target names the field', () => {
    const problems = problemsOf((policy) =>
      policy.clients['app-a'].tokenExchange.allowedAudiences.push('payroll'),
    )
    assert.match(problems.join('\n'), /app-a.*allowedAudiences/)
  })

  it('a wrong type names the field', () => {
    const problems = problemsOf(
      (policy) => (policy.clients['app-a'].tokenExchange.mode = 'sometimes'),
    )
    assert.match(problems.join('\n'), /clients\.app-a\.tokenExchange\.mode/)
  })

  it('an unknown ${VARIABLE} names the field', () => {
    const problems = problemsOf((policy) => (policy.clients['app-a'].redirectUris = ['${NOPE}/cb']))
    assert.match(
      problems.join('\n'),
      /clients\.app-a\.redirectUris\[0\]: unknown variable \$\{NOPE\}/,
    )
  })

  it('a secretEnv that names an unset variable names the client and the variable', () => {
    const problems = problemsOf(
      (policy) => (policy.clients['app-a'].secretEnv = 'NOT_SET_ANYWHERE'),
    )
    assert.match(problems.join('\n'), /clients\.app-a\.secretEnv: NOT_SET_ANYWHERE/)
  })
})

describe('environment', () => {
  it('reports every bad variable by name', () => {
    assert.throws(
      () => loadEnv({ IDP_PORT: 'ninety', APP_A_URL: 'ftp://x', APP_A_CLIENT_SECRET: 'short' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError)
        const text = error.problems.join('\n')
        assert.match(text, /IDP_PORT/)
        assert.match(text, /APP_A_URL/)
        assert.match(text, /APP_A_CLIENT_SECRET/)
        return true
      },
    )
  })

  it('refuses development secrets in production', () => {
    assert.throws(
      () => loadEnv({ NODE_ENV: 'production' }),
      /APP_A_CLIENT_SECRET: required when NODE_ENV=production/,
    )
  })
})
