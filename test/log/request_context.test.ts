/**
 * Health, readiness and request context over real HTTP on a small Fastify app built the way every
 * onbehalf service is (fastifyLogOptions + registerHealthRoutes): `/readyz` names a failed check
 * with 503 and keeps its reason in the log; every log line of a request carries its request id and
 * the caller's W3C trace id; malformed ids are replaced, never logged.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, describe, it } from 'node:test'
import Fastify from 'fastify'
import { createLogger, fastifyLogOptions } from '../../src/log/logger.js'
import { registerHealthRoutes } from '../../src/storage/readiness.js'
import { bindSocket } from '../helpers/listen.js'

const lines: Array<Record<string, unknown>> = []
const stream = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
    done()
  },
})
const logger = createLogger({ level: 'info' }, stream)
let databaseUp = true
const app = Fastify(fastifyLogOptions(logger, 'test'))
registerHealthRoutes(app, {
  logger,
  checks: {
    database: async () => {
      if (!databaseUp) throw new Error('connection refused by 127.0.0.1:5432')
    },
    redis: async () => {},
  },
})
app.get('/work', async (request) => {
  request.log.info({ event: 'work_done' }, 'work done')
  return { ok: true }
})
const socket = await bindSocket()
await socket.serve(app)
after(async () => {
  await socket.close()
  await app.close()
})

describe('health, readiness and request context', () => {
  it('when every check passes then /readyz is 200 and lists them; /healthz needs none', async () => {
    const ready = await fetch(`${socket.url}/readyz`)
    assert.equal(ready.status, 200)
    assert.deepEqual(await ready.json(), { ready: true, checks: { database: 'ok', redis: 'ok' } })
    assert.equal((await fetch(`${socket.url}/healthz`)).status, 200)
  })

  it('when the database fails then /readyz is 503 naming it, the reason only in the log, /healthz stays 200', async () => {
    databaseUp = false
    try {
      const ready = await fetch(`${socket.url}/readyz`)
      assert.equal(ready.status, 503)
      const text = await ready.text()
      assert.deepEqual(JSON.parse(text), {
        ready: false,
        checks: { database: 'failed', redis: 'ok' },
      })
      assert.doesNotMatch(text, /5432/, 'no internal detail to the caller')
      assert.ok(
        lines.some((line) => line.event === 'readiness_failed' && line.check === 'database'),
      )
      assert.equal((await fetch(`${socket.url}/healthz`)).status, 200, 'alive though not ready')
    } finally {
      databaseUp = true
    }
  })

  it('when a request carries x-request-id and traceparent then its log lines carry both', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    await fetch(`${socket.url}/work`, {
      headers: {
        'x-request-id': 'lb-req-42',
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
    })
    const mine = lines.filter((line) => line.reqId === 'lb-req-42')
    assert.ok(mine.length >= 2, 'request, handler and response lines')
    for (const line of mine) {
      assert.equal(line.traceId, traceId)
      assert.equal(line.parentId, '00f067aa0ba902b7')
    }
    assert.ok(mine.some((line) => line.event === 'work_done'))
  })

  it('when the ids are malformed then a fresh request id and a new trace are used, never the given ones', async () => {
    const before = lines.length
    await fetch(`${socket.url}/work`, {
      headers: {
        'x-request-id': 'bad id\twith spaces',
        traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      },
    })
    const added = lines.slice(before)
    assert.ok(added.length > 0)
    for (const line of added) {
      assert.match(String(line.reqId), /^[0-9a-f-]{36}$/)
      // A new trace starts here: a random trace id, this request's span, no parent.
      assert.match(String(line.traceId), /^[0-9a-f]{32}$/)
      assert.notEqual(line.traceId, '0'.repeat(32))
      assert.match(String(line.spanId), /^[0-9a-f]{16}$/)
      assert.equal(line.parentId, undefined)
      assert.doesNotMatch(JSON.stringify(line), /with spaces|00f067aa0ba902b7/)
    }
  })
})
