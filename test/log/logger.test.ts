/**
 * The log redaction of src/log/logger.ts: every sensitive field name is censored in every place a
 * secret can realistically sit (top level, child bindings, one level down, an error's own fields,
 * header maps), the caller's objects are never changed, and lines without secrets come out
 * exactly as pino writes them.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import { pino, type Logger } from 'pino'
import {
  CENSOR,
  censorNestedFields,
  createLogger,
  fastifyLogOptions,
  redactPaths,
  SENSITIVE_FIELDS,
} from '../../src/log/logger.js'

function capture(make: (stream: Writable) => Logger = (stream) => createLogger({}, stream)) {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  return { logger: make(stream), lines, parsed: () => lines.map((l) => JSON.parse(l)) }
}

const SECRET = 'eyJhbGciOiJFUzI1NiJ9.c2VjcmV0.c2ln'

/** Places a field can sit, each with where to read it back from the parsed line. */
const PLACES: Array<{
  name: string
  log: (logger: Logger, field: string) => void
  read: (line: Record<string, any>, field: string) => unknown
}> = [
  {
    name: 'top level',
    log: (logger, field) => logger.info({ [field]: SECRET }, 'x'),
    read: (line, field) => line[field],
  },
  {
    name: 'a child binding',
    log: (logger, field) => logger.child({ [field]: SECRET }).info('x'),
    read: (line, field) => line[field],
  },
  {
    name: 'one level down',
    log: (logger, field) => logger.info({ body: { grant_type: 'g', [field]: SECRET } }, 'x'),
    read: (line, field) => line.body[field],
  },
  {
    name: 'an audit event',
    log: (logger, field) => logger.info({ audit: { event: 'e', [field]: SECRET } }, 'x'),
    read: (line, field) => line.audit[field],
  },
  {
    name: "an error's own field",
    log: (logger, field) =>
      logger.error({ err: Object.assign(new Error('boom'), { [field]: SECRET }) }),
    read: (line, field) => line.err[field],
  },
  {
    name: 'request headers',
    log: (logger, field) =>
      logger.info({ req: { method: 'GET', headers: { [field]: SECRET } } }, 'x'),
    read: (line, field) => line.req.headers[field],
  },
  {
    name: 'response headers, mixed case',
    log: (logger, field) =>
      logger.info({ res: { statusCode: 200, headers: { [field.toUpperCase()]: SECRET } } }, 'x'),
    read: (line, field) => line.res.headers[field.toUpperCase()],
  },
  {
    name: 'a top-level header map, mixed case',
    log: (logger, field) =>
      logger.info({ headers: { [field[0]!.toUpperCase() + field.slice(1)]: SECRET } }, 'x'),
    read: (line, field) => line.headers[field[0]!.toUpperCase() + field.slice(1)],
  },
]

describe('createLogger redaction', () => {
  for (const field of SENSITIVE_FIELDS) {
    for (const place of PLACES) {
      test(`${field} in ${place.name} is censored`, () => {
        const { logger, lines, parsed } = capture()
        place.log(logger, field)
        assert.equal(lines.length, 1)
        assert.ok(!lines[0]!.includes(SECRET), lines[0])
        assert.equal(place.read(parsed()[0]!, field), CENSOR)
      })
    }
  }

  test('an object value under a sensitive name is censored whole', () => {
    const { logger, lines, parsed } = capture()
    logger.info({ params: { client_assertion: { jwt: SECRET } }, token: { value: SECRET } }, 'x')
    assert.ok(!lines[0]!.includes(SECRET))
    assert.equal(parsed()[0]!.params.client_assertion, CENSOR)
    assert.equal(parsed()[0]!.token, CENSOR)
  })

  test("the caller's objects are left unchanged", () => {
    const { logger } = capture()
    const headers = { authorization: `Bearer ${SECRET}`, accept: 'application/json' }
    const req = { method: 'POST', headers }
    const body = { subject_token: SECRET }
    const err = Object.assign(new Error('boom'), { password: SECRET })
    logger.info({ req, body, err }, 'x')
    assert.equal(headers.authorization, `Bearer ${SECRET}`)
    assert.equal(req.headers, headers)
    assert.equal(body.subject_token, SECRET)
    assert.equal(err.password, SECRET)
  })

  test('a censored error keeps its type, message and stack', () => {
    const { logger, parsed } = capture()
    logger.error(
      { err: Object.assign(new TypeError('bad input'), { secret: SECRET, code: 'E_X' }) },
      'x',
    )
    const err = parsed()[0]!.err
    assert.equal(err.type, 'TypeError')
    assert.equal(err.message, 'bad input')
    assert.match(err.stack, /TypeError: bad input/)
    assert.equal(err.code, 'E_X')
    assert.equal(err.secret, CENSOR)
  })

  test('a line without secrets is written exactly as plain pino writes it', () => {
    const ours = capture()
    const plain = capture((stream) => pino({ level: 'info', timestamp: false }, stream))
    const line = {
      audit: {
        event: 'token_exchange',
        outcome: 'issued',
        clientId: 'app-a',
        subjectJti: 'j-1',
        scopes: ['a'],
      },
      req: { method: 'GET', url: '/x', headers: { accept: '*/*' } },
      list: [{ token_hint: 1 }],
      n: 1,
    }
    createLogger(
      { timestamp: false },
      new Writable({ write: (c, _e, d) => (ours.lines.push(String(c)), d()) }),
    ).info(line, 'token exchange issued')
    plain.logger.info(line, 'token exchange issued')
    assert.equal(ours.lines[0], plain.lines[0])
  })

  test('the same fields are censored as by pino redact with redactPaths', () => {
    const samples = SENSITIVE_FIELDS.map((field) => ({
      [field]: SECRET,
      body: { [field]: SECRET, keep: 1 },
      req: { headers: { [field]: SECRET, accept: '*/*' } },
    }))
    for (const sample of samples) {
      const ours = capture((stream) => createLogger({ timestamp: false }, stream))
      const theirs = capture((stream) =>
        pino({ timestamp: false, redact: { paths: redactPaths, censor: CENSOR } }, stream),
      )
      ours.logger.info(sample, 'x')
      theirs.logger.info(sample, 'x')
      assert.deepEqual(ours.parsed(), theirs.parsed())
    }
  })

  test('censorNestedFields returns the very same object when there is nothing to censor', () => {
    const line = { audit: { event: 'e', jti: 'j' }, req: { headers: { accept: '*/*' } } }
    assert.equal(censorNestedFields(line), line)
  })

  test('a caller-supplied log formatter still runs, before the censoring', () => {
    const { lines } = (() => {
      const lines: string[] = []
      const logger = createLogger(
        { formatters: { log: (obj) => ({ ...obj, extra: { password: SECRET } }) } },
        new Writable({ write: (c, _e, d) => (lines.push(String(c)), d()) }),
      )
      logger.info({ a: 1 }, 'x')
      return { lines }
    })()
    assert.ok(!lines[0]!.includes(SECRET))
    assert.equal(JSON.parse(lines[0]!).extra.password, CENSOR)
  })
})

describe('fastifyLogOptions', () => {
  test('request lines carry neither the Authorization header nor a token in the query', async (t) => {
    const { logger, lines } = capture()
    const app = Fastify(fastifyLogOptions(logger, 'test'))
    t.after(() => app.close())
    app.get('/api', async () => ({ ok: true }))
    await app.inject({
      url: `/api?access_token=${SECRET}&x=1`,
      headers: { authorization: `Bearer ${SECRET}`, cookie: `sid=${SECRET}` },
    })
    assert.ok(lines.length >= 2)
    for (const line of lines) assert.ok(!line.includes(SECRET), line)
    assert.ok(lines.some((line) => line.includes('access_token=[redacted]')))
  })
})
