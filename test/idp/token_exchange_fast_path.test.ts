/**
 * The IdP's lean RFC 8693 path (src/idp/token_exchange_fast_path.ts), over real HTTP: every request
 * goes to two IdPs built alike — one with the lean path (the default), one with
 * `tokenExchangeFastPath: false`, so oidc-provider answers — and the answers must be the same:
 * status, error JSON, the answer's headers, the token's claims, one audit line per decision. Which
 * path answered shows in oidc-provider's own `grant.success` / `grant.error` events: none at the lean
 * IdP for what the lean path takes, one for what it hands on.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { createLogger } from '../../src/log/logger.js'
import {
  basicAuth,
  decodeJwt,
  loginForTokens,
  startStack,
  type LoginTokens,
  type Stack,
} from '../helpers/stack.js'
import { sendRaw, type RawAnswer as Answer } from '../helpers/raw_http.js'

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const FORM = 'application/x-www-form-urlencoded'

interface Target {
  stack: Stack
  tokens: LoginTokens
  auditLines: unknown[]
  /** oidc-provider's grant.success + grant.error events so far. */
  providerGrantEvents(): number
}

interface Case {
  name: string
  /** The lean path answers it (else oidc-provider does, at both IdPs). */
  lean: boolean
  /** The form body; `subject` is replaced by the target's own subject token. */
  body: (subject: string) => string
  headers?: (target: Target) => Record<string, string>
  path?: string
}

/** A form POST with an exact Content-Length. */
function send(url: string, path: string, headers: Record<string, string>, body: string) {
  return sendRaw(url, {
    path,
    headers: { 'content-length': Buffer.byteLength(body), ...headers },
    parts: [body],
  })
}

const form = (fields: ReadonlyArray<readonly [string, string]>) =>
  fields
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join('&')

const exchangeFields = (subject: string) =>
  [
    ['grant_type', TOKEN_EXCHANGE],
    ['subject_token', subject],
    ['subject_token_type', ACCESS_TOKEN],
    ['audience', 'app-b'],
  ] as const

const appA = (target: Target) => ({
  'content-type': FORM,
  authorization: basicAuth('app-a', target.stack.env.APP_A_CLIENT_SECRET),
})

const CASES: readonly Case[] = [
  { name: 'a valid exchange', lean: true, body: (s) => form(exchangeFields(s)) },
  {
    name: 'a valid exchange with a scope and client_id equal to the Basic one',
    lean: true,
    body: (s) => form([...exchangeFields(s), ['scope', 'todos:read'], ['client_id', 'app-a']]),
  },
  {
    name: 'an empty scope (absent, as oidc-provider reads it)',
    lean: true,
    body: (s) => form([...exchangeFields(s), ['scope', '']]),
  },
  {
    name: 'a repeated audience, one not allowed (invalid_target)',
    lean: true,
    body: (s) => form([...exchangeFields(s), ['audience', 'app-c']]),
  },
  {
    name: 'an audience the policy does not allow (invalid_target)',
    lean: true,
    body: (s) => form(exchangeFields(s).map(([n, v]) => [n, n === 'audience' ? 'app-d' : v])),
  },
  {
    name: 'a scope beyond the ceiling (invalid_scope)',
    lean: true,
    body: (s) => form([...exchangeFields(s), ['scope', 'todos:write']]),
  },
  {
    name: 'no subject_token (invalid_request)',
    lean: true,
    body: (s) => form(exchangeFields(s).filter(([n]) => n !== 'subject_token')),
  },
  {
    name: 'a subject token that is not a JWT (invalid_grant)',
    lean: true,
    body: () => form(exchangeFields('not-a-token')),
  },
  {
    name: 'a malformed DPoP proof (invalid_dpop_proof)',
    lean: true,
    body: (s) => form(exchangeFields(s)),
    headers: (t) => ({ ...appA(t), dpop: 'not-a-proof' }),
  },
  {
    name: 'a wrong client secret (oidc-provider: invalid_client, Basic challenge)',
    lean: false,
    body: (s) => form(exchangeFields(s)),
    headers: () => ({ 'content-type': FORM, authorization: basicAuth('app-a', 'x'.repeat(40)) }),
  },
  {
    name: 'an unknown client',
    lean: false,
    body: (s) => form(exchangeFields(s)),
    headers: () => ({ 'content-type': FORM, authorization: basicAuth('nobody', 'x'.repeat(40)) }),
  },
  {
    name: 'a malformed Authorization header',
    lean: false,
    body: (s) => form(exchangeFields(s)),
    headers: () => ({ 'content-type': FORM, authorization: 'Basic !!!' }),
  },
  {
    name: 'client_secret in the body beside HTTP Basic',
    lean: false,
    body: (s) => form([...exchangeFields(s), ['client_secret', 'y'.repeat(40)]]),
  },
  {
    name: 'a client_id in the body other than the Basic one',
    lean: false,
    body: (s) => form([...exchangeFields(s), ['client_id', 'app-b']]),
  },
  {
    name: 'a repeated subject_token',
    lean: false,
    body: (s) => form([...exchangeFields(s), ['subject_token', s]]),
  },
  {
    name: 'a repeated grant_type',
    lean: false,
    body: (s) => form([...exchangeFields(s), ['grant_type', TOKEN_EXCHANGE]]),
  },
  {
    name: 'a scope with characters RFC 6749 does not allow',
    lean: false,
    body: (s) => form([...exchangeFields(s), ['scope', 'todos:read  "x"']]),
  },
  {
    name: 'authorization_details',
    lean: false,
    body: (s) => form([...exchangeFields(s), ['authorization_details', '[]']]),
  },
  {
    name: 'a charset on the media type',
    lean: false,
    body: (s) => form(exchangeFields(s)),
    headers: (t) => ({ ...appA(t), 'content-type': `${FORM}; charset=utf-8` }),
  },
  {
    name: 'an Origin header (CORS stays oidc-provider’s)',
    lean: false,
    body: (s) => form(exchangeFields(s)),
    headers: (t) => ({ ...appA(t), origin: 'https://elsewhere.example' }),
  },
  {
    name: 'Accept: text/html',
    lean: false,
    body: (s) => form(exchangeFields(s)),
    headers: (t) => ({ ...appA(t), accept: 'text/html' }),
  },
  {
    name: 'a query string on /token',
    lean: false,
    body: (s) => form(exchangeFields(s)),
    path: '/token?x=1',
  },
  {
    name: 'another grant (client_credentials)',
    lean: false,
    body: () =>
      form([
        ['grant_type', 'client_credentials'],
        ['scope', 'todos:read'],
      ]),
  },
]

/** Headers that differ between any two answers (time, framing, per-request ids). */
const PER_ANSWER_HEADERS = new Set([
  'date',
  'content-length',
  'connection',
  'keep-alive',
  'x-request-id',
  'traceparent',
])

/** What must be equal between the two IdPs: tokens, ids and the issuer differ, their shape must not. */
function comparable(answer: Answer, issuer: string) {
  const headers = Object.fromEntries(
    Object.entries(answer.headers).filter(([name]) => !PER_ANSWER_HEADERS.has(name)),
  )
  const shape = (value: unknown) =>
    JSON.parse(JSON.stringify(value ?? null).replaceAll(issuer, '<issuer>'))
  if (!answer.headers['content-type']?.startsWith('application/json'))
    return shape({ status: answer.status, headers: { ...headers, 'content-type': undefined } })
  const body = JSON.parse(answer.text) as Record<string, unknown>
  if (typeof body.access_token !== 'string') return shape({ status: answer.status, headers, body })
  const { payload, header } = decodeJwt(body.access_token)
  return shape({
    status: answer.status,
    headers,
    body: { ...body, access_token: undefined },
    header: { ...header, kid: undefined },
    claims: Object.keys(payload).sort(),
    sub: payload.sub,
    aud: payload.aud,
    act: payload.act,
    scope: payload.scope,
    clientId: payload.client_id,
  })
}

describe('IdP lean token exchange path', () => {
  let lean: Target
  let provider: Target

  async function start(tokenExchangeFastPath: boolean): Promise<Target> {
    const auditLines: unknown[] = []
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const parsed = JSON.parse(line) as { audit?: unknown }
          if (parsed.audit !== undefined) auditLines.push(parsed.audit)
        }
        done()
      },
    })
    const stack = await startStack({
      logger: createLogger({ level: 'info' }, sink),
      idp: () => ({ tokenExchangeFastPath, abuseLimits: { enabled: false } }),
    })
    let events = 0
    const count = () => {
      events++
    }
    stack.idp.provider.on('grant.success', count)
    stack.idp.provider.on('grant.error', count)
    const tokens = await loginForTokens(stack, { username: 'alice' })
    return { stack, tokens, auditLines, providerGrantEvents: () => events }
  }

  before(async () => {
    ;[lean, provider] = await Promise.all([start(true), start(false)])
  })
  after(async () => {
    await Promise.all([lean?.stack.close(), provider?.stack.close()])
  })

  for (const testCase of CASES) {
    const verb = testCase.lean ? 'ThenTheLeanPathAnswersAsOidcProvider' : 'ThenOidcProviderAnswers'
    it(`tokenRequestWhen ${testCase.name} ${verb}`, async () => {
      const answers: Answer[] = []
      const audits: number[] = []
      const events: number[] = []
      for (const target of [lean, provider]) {
        const auditsBefore = target.auditLines.length
        const eventsBefore = target.providerGrantEvents()
        answers.push(
          await send(
            target.stack.idp.issuer,
            testCase.path ?? '/token',
            (testCase.headers ?? appA)(target),
            testCase.body(target.tokens.access_token),
          ),
        )
        audits.push(target.auditLines.length - auditsBefore)
        events.push(target.providerGrantEvents() - eventsBefore)
      }
      const [leanAnswer, providerAnswer] = answers as [Answer, Answer]
      assert.deepEqual(
        comparable(leanAnswer, lean.stack.idp.issuer),
        comparable(providerAnswer, provider.stack.idp.issuer),
      )
      assert.equal(audits[0], audits[1], 'one audit line per decision on both paths')
      assert.equal(events[1], 1, 'the IdP without the lean path: oidc-provider answered')
      assert.equal(events[0], testCase.lean ? 0 : 1, 'which path answered at the lean IdP')
      if (leanAnswer.status !== 200) {
        assert.equal(JSON.parse(leanAnswer.text).access_token, undefined, 'no token on a refusal')
      }
    })
  }

  it('tokenRequestWhenValidExchangeThenTheLeanPathIssuesTheUsersTokenForAppB', async () => {
    const answer = await send(
      lean.stack.idp.issuer,
      '/token',
      appA(lean),
      form(exchangeFields(lean.tokens.access_token)),
    )
    assert.equal(answer.status, 200)
    const body = JSON.parse(answer.text) as Record<string, string>
    const { payload } = decodeJwt(body.access_token!)
    assert.equal(payload.sub, decodeJwt(lean.tokens.access_token).payload.sub)
    assert.equal(payload.aud, 'app-b')
    assert.equal(body.issued_token_type, ACCESS_TOKEN)
    assert.equal(answer.headers['cache-control'], 'no-store')
    const audit = lean.auditLines.at(-1) as { outcome: string; issuedJti?: string }
    assert.equal(audit.outcome, 'issued')
    assert.equal(audit.issuedJti, payload.jti)
  })

  it('tokenRequestWhenPerClientLimitReachedThenTheLeanPathRefuses429AsOidcProviderAndMintsNothing', async () => {
    const refusals: Array<ReturnType<typeof comparable>> = []
    for (const tokenExchangeFastPath of [true, false]) {
      const limited = await startStack({
        idp: () => ({
          tokenExchangeFastPath,
          abuseLimits: {
            enabled: true,
            tokenPerClient: { max: 2, windowSeconds: 60 },
            tokenPerIp: { max: 100, windowSeconds: 60 },
          },
        }),
      })
      try {
        // The login's code redemption counts too: one exchange is left, then the limit holds.
        const tokens = await loginForTokens(limited, { username: 'alice' })
        const exchange = () =>
          send(
            limited.idp.issuer,
            '/token',
            {
              'content-type': FORM,
              authorization: basicAuth('app-a', limited.env.APP_A_CLIENT_SECRET),
            },
            form(exchangeFields(tokens.access_token)),
          )
        assert.equal((await exchange()).status, 200)
        const refused = await exchange()
        assert.equal(refused.status, 429)
        assert.ok(Number(refused.headers['retry-after']) > 0)
        const body = JSON.parse(refused.text) as Record<string, unknown>
        assert.equal(body.error, 'temporarily_unavailable')
        assert.equal(body.access_token, undefined)
        refusals.push(comparable(refused, limited.idp.issuer))
      } finally {
        await limited.close()
      }
    }
    assert.deepEqual(refusals[0], refusals[1])
  })
})
