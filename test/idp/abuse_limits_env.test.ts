import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadEnv } from '../../src/config/env.js'
import { abuseLimitsFromEnv, resolveAbuseLimits } from '../../src/idp/app.js'

describe('IdP abuse limits from the environment', () => {
  it('defaults: on, 600 token requests and 60 login posts per minute', () => {
    const limits = resolveAbuseLimits(abuseLimitsFromEnv(loadEnv({ NODE_ENV: 'test' })))
    assert.equal(limits.enabled, true)
    assert.deepEqual(limits.tokenPerIp, { max: 600, windowSeconds: 60 })
    assert.deepEqual(limits.tokenPerClient, { max: 600, windowSeconds: 60 })
    assert.deepEqual(limits.loginPerIp, { max: 60, windowSeconds: 60 })
  })

  it('IDP_RATE_LIMITS=off switches them off; the numbers are configurable', () => {
    const env = loadEnv({
      NODE_ENV: 'test',
      IDP_RATE_LIMITS: 'off',
      IDP_TOKEN_REQUESTS_PER_MINUTE: '50000',
    })
    const limits = resolveAbuseLimits(abuseLimitsFromEnv(env))
    assert.equal(limits.enabled, false)
    assert.equal(limits.tokenPerIp.max, 50000)
  })

  it('a bad value names the variable', () => {
    assert.throws(() => loadEnv({ IDP_RATE_LIMITS: 'maybe' }), /IDP_RATE_LIMITS/)
    assert.throws(
      () => loadEnv({ IDP_TOKEN_REQUESTS_PER_MINUTE: '0' }),
      /IDP_TOKEN_REQUESTS_PER_MINUTE/,
    )
  })
})
