/**
 * Web sessions in Redis (REDIS_URL): a session made by one App A instance is used by another and
 * outlives the instance that made it, so a load balancer needs no sticky sessions; App B the same.
 * Without REDIS_URL the second instance knows nothing of it (what sticky sessions were for). Real
 * stack, real HTTP sign-in through the IdP's login form, the real Redis with a random prefix.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { buildAppA } from '../../src/apps/app-a/app.js'
import { buildAppB } from '../../src/apps/app-b/app.js'
import { createLogger } from '../../src/log/logger.js'
import { TestBrowser } from '../helpers/browser.js'
import { bindSocket, type BoundSocket } from '../helpers/listen.js'
import { redisUnavailable, TEST_REDIS_URL } from '../helpers/redis.js'
import { startStack, type Stack } from '../helpers/stack.js'
import { openRedis } from '../../src/limits/redis.js'
import { createRedisSessionStore } from '../../src/web/redis_session_store.js'
import { createSessionRecord } from '../../src/web/session.js'

const skip = await redisUnavailable()
const logger = createLogger({ level: 'silent' })

async function signIn(browser: TestBrowser, appUrl: string): Promise<void> {
  const form = await browser.navigate(`${appUrl}/auth/login`)
  assert.equal(form.status, 200, `${form.url}: ${form.body.slice(0, 2000)}`)
  const page = await browser.submitForm(form, { username: 'demo', password: 'changeme' }, '/login')
  assert.equal(page.status, 200)
  assert.match(page.body, /data-testid="logout-button"/, `signed in at ${appUrl}`)
}

/** Whether the page at `url` is served to a signed-in user (the sign-out button is there). */
async function signedInAt(browser: TestBrowser, url: string): Promise<boolean> {
  const page = await browser.request(url)
  return page.status === 200 && /data-testid="logout-button"/.test(page.body)
}

/** A second instance of an app of `stack`, on its own socket. */
async function secondInstance(
  build: () => Promise<FastifyInstance>,
): Promise<{ url: string; app: FastifyInstance; socket: BoundSocket }> {
  const app = await build()
  const socket = await bindSocket()
  await socket.serve(app)
  return { url: socket.url, app, socket }
}

async function withStack(redis: boolean, run: (stack: Stack) => Promise<void>): Promise<void> {
  const prefix = `onbehalf-test-${randomBytes(6).toString('hex')}:`
  const stack = await startStack({
    apps: true,
    env: redis ? { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix } : {},
  })
  try {
    await run(stack)
  } finally {
    await stack.close()
    if (redis) {
      const client = new Redis(TEST_REDIS_URL)
      const keys = await client.keys(`${prefix}*`)
      if (keys.length > 0) await client.del(...keys)
      client.disconnect()
    }
  }
}

describe('web sessions shared through Redis', { skip }, () => {
  it('WhenAppASignsInOnOneInstanceThenAnotherInstanceServesTheSessionAfterTheFirstIsGone', async () => {
    await withStack(true, async (stack) => {
      const browser = new TestBrowser()
      await signIn(browser, stack.env.APP_A_URL)
      const two = await secondInstance(() => buildAppA({ env: stack.env, logger }))
      try {
        // The browser's cookie (127.0.0.1, any port) reaches instance two, which never saw it.
        assert.equal(await signedInAt(browser, `${two.url}/`), true)
        // Instance one restarts (closed here): the session lives on.
        await stack.appA!.close()
        assert.equal(await signedInAt(browser, `${two.url}/`), true)
        // Signing out on instance two ends the session for every instance.
        const home = await browser.request(`${two.url}/`)
        const csrf = /name="_csrf" value="([^"]+)"/.exec(home.body)?.[1]
        assert.ok(csrf, 'logout form has a CSRF token')
        await browser.request(`${two.url}/auth/logout`, { method: 'POST', form: { _csrf: csrf } })
        const three = await secondInstance(() => buildAppA({ env: stack.env, logger }))
        try {
          assert.equal(await signedInAt(browser, `${three.url}/`), false)
        } finally {
          await three.socket.close()
          await three.app.close()
        }
      } finally {
        await two.socket.close()
        await two.app.close()
      }
    })
  })

  it('WhenAppBSignsInOnOneInstanceThenAnotherInstanceServesTheSession', async () => {
    await withStack(true, async (stack) => {
      const browser = new TestBrowser()
      await signIn(browser, stack.env.APP_B_URL)
      const two = await secondInstance(() => buildAppB({ env: stack.env, logger }))
      try {
        assert.equal(await signedInAt(browser, `${two.url}/`), true)
      } finally {
        await two.socket.close()
        await two.app.close()
      }
    })
  })
})

describe('the Redis session store', { skip }, () => {
  it('WhenSessionsMatchABackChannelLogoutThenOnlyThoseAreRemovedOnEveryInstance', async () => {
    const prefix = `onbehalf-test-${randomBytes(6).toString('hex')}:`
    const one = openRedis(TEST_REDIS_URL, 'test-one', prefix)
    const two = openRedis(TEST_REDIS_URL, 'test-two', prefix)
    const stores = [one, two].map((redis) =>
      createRedisSessionStore({ redis, name: 'app-x', ttlSeconds: 600 }),
    )
    try {
      const records = ['alice', 'bob', 'alice'].map((sub) => {
        const record = createSessionRecord(Date.now() / 1000, 600)
        record.data.set('tokens', { user: { sub } })
        return record
      })
      for (const record of records) await stores[0]!.save(record)
      // Another app's session under the same prefix is never touched.
      const other = createRedisSessionStore({ redis: one, name: 'app-y', ttlSeconds: 600 })
      const foreign = createSessionRecord(Date.now() / 1000, 600)
      foreign.data.set('tokens', { user: { sub: 'alice' } })
      await other.save(foreign)

      const loaded = await stores[1]!.load(records[1]!.id)
      assert.equal(loaded?.csrfToken, records[1]!.csrfToken)
      assert.deepEqual(loaded?.data.get('tokens'), { user: { sub: 'bob' } })
      assert.ok((await one.ttl(`session:app-x:${records[0]!.id}`)) > 590)

      const ended = await stores[1]!.removeWhere(
        (data) => (data.get('tokens') as { user: { sub: string } }).user.sub === 'alice',
      )
      assert.equal(ended, 2)
      assert.equal(await stores[0]!.load(records[0]!.id), undefined)
      assert.equal(await stores[0]!.load(records[2]!.id), undefined)
      assert.ok(await stores[0]!.load(records[1]!.id))
      assert.ok(await other.load(foreign.id))
    } finally {
      const keys = await one.keys(`${prefix}*`)
      if (keys.length > 0) await one.del(...keys.map((key) => key.slice(prefix.length)))
      one.disconnect()
      two.disconnect()
    }
  })
})

describe('web sessions without Redis', () => {
  it('WhenRedisUrlIsUnsetThenAnotherInstanceDoesNotKnowTheSession', async () => {
    await withStack(false, async (stack) => {
      const browser = new TestBrowser()
      await signIn(browser, stack.env.APP_A_URL)
      const two = await secondInstance(() => buildAppA({ env: stack.env, logger }))
      try {
        assert.equal(await signedInAt(browser, `${stack.env.APP_A_URL}/`), true)
        assert.equal(await signedInAt(browser, `${two.url}/`), false)
      } finally {
        await two.socket.close()
        await two.app.close()
      }
    })
  })
})
