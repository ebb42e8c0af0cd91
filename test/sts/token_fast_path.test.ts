/**
 * The STS's lean `POST /token` path (src/sts/token_fast_path.ts), over real HTTP: every request
 * is sent to two STS instances built from the same config — one with the lean path (the default),
 * one with `tokenFastPath: false`, so Fastify's route answers — and the answers must be the same
 * (status, error JSON, the RFC 6749 headers), with no token minted wherever one is refused.
 * Fastify's `fastify.request.handler` tracing channel tells which path answered.
 */
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { request as httpRequest } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { buildSts } from '../../src/sts/app.js'
import {
  basic,
  captureLogger,
  CLIENT_SECRETS,
  FakeUpstream,
  formBody,
  loadConfig,
  stsConfigJson,
  tempDir,
} from './helpers.js'
import { sendRaw as send, type RawAnswer, type RawRequest } from '../helpers/raw_http.js'

const FORM = 'application/x-www-form-urlencoded'
const AUTH = basic('app-a', CLIENT_SECRETS.STS_APP_A_SECRET)
const FASTIFY_HANDLER = 'tracing:fastify.request.handler:start'

/** A form POST with an exact Content-Length, as app-a. */
function formPost(body: string, headers: Record<string, string> = {}): RawRequest {
  return {
    headers: {
      'content-type': FORM,
      'content-length': Buffer.byteLength(body),
      authorization: AUTH,
      ...headers,
    },
    parts: [body],
  }
}

const ANSWER_HEADERS = [
  'cache-control',
  'pragma',
  'content-type',
  'www-authenticate',
  'retry-after',
  'dpop-nonce',
]

function headersOf(answer: RawAnswer) {
  return Object.fromEntries(ANSWER_HEADERS.map((name) => [name, answer.headers[name]]))
}

function auditLines(lines: readonly string[]) {
  return lines.filter((line) => line.includes('"audit"')).map((line) => JSON.parse(line))
}

describe('STS lean token path', () => {
  const keyDir = tempDir()
  let upstream: FakeUpstream
  const instances: Array<{
    url: string
    lines: string[]
    close(): Promise<void>
  }> = []
  let fast: (typeof instances)[number]
  let fastify: (typeof instances)[number]
  let fastifyHandled = 0
  const countFastify = () => {
    fastifyHandled++
  }

  async function start(
    tokenFastPath: boolean,
    extra: Record<string, unknown> = {},
  ): Promise<(typeof instances)[number]> {
    const { logger, lines } = captureLogger()
    const config = loadConfig({
      ...stsConfigJson({
        issuer: 'http://sts.test',
        keyDir: keyDir.path,
        upstream: {
          issuer: upstream.issuer,
          algorithms: ['ES256'],
          clients: { 'upstream-app-a': 'app-a', 'upstream-app-b': 'app-b' },
        },
      }),
      bodyLimitBytes: 2048,
      tokenRequestsPerMinutePerIp: 0,
      ...extra,
    })
    const app = await buildSts(config, { logger, tokenFastPath })
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    const instance = { url, lines, close: () => app.close() }
    instances.push(instance)
    return instance
  }

  /** The same request to both instances: the answers, and how many Fastify handled. */
  async function both(request: () => RawRequest) {
    const fastLines = fast.lines.length
    const fastifyLines = fastify.lines.length
    fastifyHandled = 0
    const fastAnswer = await send(fast.url, request())
    const handledByFastify = fastifyHandled
    const fastifyAnswer = await send(fastify.url, request())
    return {
      fast: fastAnswer,
      fastify: fastifyAnswer,
      handledByFastify,
      fastAudit: auditLines(fast.lines.slice(fastLines)),
      fastLog: fast.lines.slice(fastLines).join(''),
      fastifyAudit: auditLines(fastify.lines.slice(fastifyLines)),
    }
  }

  function assertSameAnswer(result: Awaited<ReturnType<typeof both>>) {
    assert.equal(result.fast.status, result.fastify.status)
    assert.deepEqual(headersOf(result.fast), headersOf(result.fastify))
    if (result.fast.status !== 200) assert.equal(result.fast.text, result.fastify.text)
    assert.deepEqual(
      result.fastAudit.map((line) => [line.audit.outcome, line.audit.error]),
      result.fastifyAudit.map((line) => [line.audit.outcome, line.audit.error]),
    )
  }

  function assertNoToken(answer: RawAnswer) {
    assert.doesNotMatch(answer.text, /access_token/)
  }

  before(async () => {
    upstream = await new FakeUpstream().start()
    fast = await start(true)
    fastify = await start(false)
    subscribe(FASTIFY_HANDLER, countFastify)
  })
  after(async () => {
    unsubscribe(FASTIFY_HANDLER, countFastify)
    for (const instance of instances) await instance.close()
    await upstream.close()
    keyDir.remove()
  })

  it('tokenFastPathWhenAValidExchangeIsPostedThenItAnswersWithoutFastifyAsFastifyWould', async () => {
    const result = await both(() =>
      formPost(formBody({ subject_token: upstream.token(), audience: 'app-b' }), {
        'x-request-id': 'fast-path-request-1',
      }),
    )
    assert.equal(result.handledByFastify, 0)
    assert.equal(result.fast.status, 200)
    assertSameAnswer(result)
    assert.equal(result.fast.headers['cache-control'], 'no-store')
    assert.equal(result.fast.headers.pragma, 'no-cache')
    assert.equal(result.fast.headers['content-type'], 'application/json; charset=utf-8')
    const fastBody = JSON.parse(result.fast.text)
    const fastifyBody = JSON.parse(result.fastify.text)
    assert.deepEqual(Object.keys(fastBody), Object.keys(fastifyBody))
    assert.equal(fastBody.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token')
    assert.equal(fastBody.token_type, fastifyBody.token_type)
    // One audit line, in the request's trace context.
    assert.equal(result.fastAudit.length, 1)
    assert.equal(result.fastAudit[0].audit.outcome, 'issued')
    assert.equal(result.fastAudit[0].reqId, 'fast-path-request-1')
    assert.equal(result.fastifyAudit[0].reqId, 'fast-path-request-1')
  })

  it('tokenFastPathWhenTheCallerSendsATraceparentThenTheAuditLineIsInItsTrace', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const result = await both(() =>
      formPost(formBody({ subject_token: upstream.token(), audience: 'app-b' }), {
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      }),
    )
    assert.equal(result.handledByFastify, 0)
    assert.equal(result.fastAudit[0].traceId, traceId)
    assert.equal(result.fastAudit[0].parentId, '00f067aa0ba902b7')
    assert.equal(result.fastifyAudit[0].traceId, traceId)
  })

  it('tokenFastPathWhenTheClientSecretIsWrongThen401InvalidClientWithWwwAuthenticate', async () => {
    const result = await both(() =>
      formPost(formBody({ subject_token: upstream.token(), audience: 'app-b' }), {
        authorization: basic('app-a', 'wrong-secret-0123456789-0123456789'),
      }),
    )
    assert.equal(result.handledByFastify, 0)
    assert.equal(result.fast.status, 401)
    assert.equal(JSON.parse(result.fast.text).error, 'invalid_client')
    assert.match(String(result.fast.headers['www-authenticate']), /^Basic/)
    assertSameAnswer(result)
    assertNoToken(result.fast)
    assert.equal(result.fastAudit.length, 0)
    assert.ok(fast.lines.some((line) => line.includes('client_authentication_failed')))
  })

  it('tokenFastPathWhenAParameterIsRepeatedThenInvalidRequestAndNoToken', async () => {
    const token = upstream.token()
    const body = `${formBody({ subject_token: token, audience: 'app-b' })}&subject_token=${token}`
    const result = await both(() => formPost(body))
    assert.equal(result.handledByFastify, 0)
    assert.equal(result.fast.status, 400)
    assert.equal(JSON.parse(result.fast.text).error, 'invalid_request')
    assertSameAnswer(result)
    assertNoToken(result.fast)
  })

  it('tokenFastPathWhenTheBodyIsNotAFormThenFastifyRefusesItAsToday', async () => {
    for (const contentType of ['application/json', 'text/plain', `${FORM}; charset=utf-8`]) {
      const body =
        contentType === 'application/json'
          ? JSON.stringify({ subject_token: upstream.token(), audience: 'app-b' })
          : formBody({ subject_token: upstream.token(), audience: 'app-b' })
      const result = await both(() => formPost(body, { 'content-type': contentType }))
      assertSameAnswer(result)
      if (contentType.startsWith(FORM)) {
        assert.equal(result.handledByFastify, 1, contentType)
      } else {
        // Refused by Fastify's content-type parser, as before the lean path.
        assert.match(result.fastLog, /FST_ERR_CTP_INVALID_MEDIA_TYPE/)
        assert.equal(result.fast.status, 400, contentType)
        assert.equal(JSON.parse(result.fast.text).error, 'invalid_request')
        assertNoToken(result.fast)
      }
    }
  })

  it('tokenFastPathWhenTheBodyIsOverTheLimitThenInvalidRequestAndNoToken', async () => {
    const body = `${formBody({ subject_token: upstream.token(), audience: 'app-b' })}&pad=${'A'.repeat(3000)}`
    const result = await both(() => formPost(body))
    assert.match(result.fastLog, /FST_ERR_CTP_BODY_TOO_LARGE/)
    assert.equal(result.fast.status, 400)
    assert.deepEqual(JSON.parse(result.fast.text), {
      error: 'invalid_request',
      error_description: 'request body is invalid',
    })
    assertSameAnswer(result)
    assert.equal(result.fastAudit.length, 0)
  })

  it('tokenFastPathWhenTheBodyIsChunkedOrEmptyThenFastifyAnswersAsToday', async () => {
    const body = formBody({ subject_token: upstream.token(), audience: 'app-b' })
    const chunked = await both(() => ({
      headers: { 'content-type': FORM, authorization: AUTH, 'transfer-encoding': 'chunked' },
      parts: [body.slice(0, 40), body.slice(40)],
    }))
    assert.equal(chunked.handledByFastify, 1)
    assertSameAnswer(chunked)
    const empty = await both(() => formPost(''))
    assert.equal(empty.handledByFastify, 1)
    assert.equal(empty.fast.status, 400)
    assertSameAnswer(empty)
    assertNoToken(empty.fast)
  })

  it('tokenFastPathWhenTokenIsAskedWithGetHeadOrAQueryThenFastifyAnswersAsToday', async () => {
    for (const method of ['GET', 'HEAD']) {
      const result = await both(() => ({ method, headers: { authorization: AUTH } }))
      assert.equal(result.fast.status, 404, method)
      assert.equal(result.fast.status, result.fastify.status)
      assert.equal(result.fast.text, result.fastify.text)
      assertNoToken(result.fast)
    }
    const body = formBody({ subject_token: upstream.token(), audience: 'app-b' })
    const query = await both(() => ({ ...formPost(body), path: '/token?x=1' }))
    assert.equal(query.handledByFastify, 1)
    assertSameAnswer(query)
  })

  it('tokenFastPathWhenTheBodyArrivesSlowlyThenItIsReadWholeAndExchanged', async () => {
    const body = formBody({ subject_token: upstream.token(), audience: 'app-b' })
    const third = Math.ceil(body.length / 3)
    const result = await both(() => ({
      ...formPost(body),
      parts: [body.slice(0, third), body.slice(third, 2 * third), body.slice(2 * third)],
      pauseMs: 300,
    }))
    assert.equal(result.handledByFastify, 0)
    assert.equal(result.fast.status, 200)
    assertSameAnswer(result)
  })

  it('tokenFastPathWhenTheClientGoesAwayMidBodyThenNoTokenIsMintedAndTheServerServesOn', async () => {
    for (const instance of [fast, fastify]) {
      const before = instance.lines.length
      const body = formBody({ subject_token: upstream.token(), audience: 'app-b' })
      await new Promise<void>((resolve) => {
        const req = httpRequest(new URL('/token', instance.url), {
          method: 'POST',
          agent: false,
          headers: { 'content-type': FORM, 'content-length': body.length, authorization: AUTH },
        })
        req.on('error', () => resolve())
        req.write(body.slice(0, 50), () => setTimeout(() => req.destroy(), 100))
        req.on('close', () => resolve())
      })
      // Give the server time to see the close; the next request proves it is still serving.
      const next = await send(
        instance.url,
        formPost(formBody({ subject_token: upstream.token(), audience: 'app-b' })),
      )
      assert.equal(next.status, 200)
      // Logged as Fastify logs a body that never arrived, in the request's trace.
      const refused = instance.lines
        .slice(before)
        .map((line) => JSON.parse(line))
        .filter((line) => line.event === 'token_request_invalid')
      assert.equal(refused.length, 1)
      assert.equal(refused[0].detail, 'ECONNRESET')
      assert.match(refused[0].reqId, /^[0-9a-f-]{36}$/)
      const audits = auditLines(instance.lines.slice(before))
      assert.equal(audits.length, 1, 'only the second request reached the engine')
    }
  })

  it('tokenFastPathWhenTheIpLimitIsReachedThen429WithRetryAfterAndNoToken', async () => {
    const limitedFast = await start(true, { tokenRequestsPerMinutePerIp: 2 })
    const limitedFastify = await start(false, { tokenRequestsPerMinutePerIp: 2 })
    const answers: RawAnswer[][] = [[], []]
    for (const [index, instance] of [limitedFast, limitedFastify].entries()) {
      for (let i = 0; i < 3; i++) {
        answers[index]!.push(
          await send(
            instance.url,
            formPost(formBody({ subject_token: upstream.token(), audience: 'app-b' })),
          ),
        )
      }
    }
    const [fastAnswers, fastifyAnswers] = answers as [RawAnswer[], RawAnswer[]]
    assert.deepEqual(
      fastAnswers.map((a) => a.status),
      [200, 200, 429],
    )
    assert.deepEqual(
      fastifyAnswers.map((a) => a.status),
      [200, 200, 429],
    )
    assert.equal(fastAnswers[2]!.text, fastifyAnswers[2]!.text)
    assert.deepEqual(headersOf(fastAnswers[2]!), headersOf(fastifyAnswers[2]!))
    assert.match(String(fastAnswers[2]!.headers['retry-after']), /^[1-9]\d*$/)
    assertNoToken(fastAnswers[2]!)
    assert.equal(auditLines(limitedFast.lines).length, 2)
    assert.ok(limitedFast.lines.some((line) => line.includes('token_throttled')))
  })
})
