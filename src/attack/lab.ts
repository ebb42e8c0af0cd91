/**
 * The attack lab: plays a compromised App A against a running stack and records, for every
 * attempt, the request sent, the response and a verdict (LEAKED or BLOCKED) with the reason.
 *
 * The attacker holds App A's client secret and its own login (bob); the target is another user's
 * data (alice's todos in App B). The same code runs behind App A's `/attack` page and the
 * `onbehalf attack` command. The comparison matrix (matrix.ts) is computed from the report.
 *
 * What is recorded never holds a raw token or secret: tokens become `«jwt sub=… aud=… (N chars)»`
 * plus their decoded claims, Basic credentials become `Basic app-a:••••`.
 *
 * @example
 * ```ts
 * const report = await runAttackLab({ issuer, serviceUrl, clientId, clientSecret, redirectUri,
 *   audience: 'app-b', scope: 'todos:read', attacker: { username: 'bob', password }, victim: { username: 'alice', sub } })
 * ```
 */
import { generateKeyPairSync, randomUUID, sign as cryptoSign } from 'node:crypto'
import { TOKEN_EXCHANGE_GRANT, ACCESS_TOKEN_TYPE } from '../client/token_exchange_client.js'
import {
  callService,
  createPathStrategies,
  decodeClaims,
  federationForm,
  requestToken,
  runPaths,
  serviceTokenForm,
  USER_HEADER,
  type PathId,
  type PathResult,
  type PathTarget,
} from '../demo/paths/index.js'
import { loginWithPassword } from './login.js'
import { buildMatrix, type MatrixRow } from './matrix.js'

export type AttackVerdict = 'LEAKED' | 'BLOCKED'

/** What the attacker needs for an attempt. */
export type AttackerHolds = 'client-secret' | 'stolen-user-token' | 'nothing'

export interface RecordedRequest {
  readonly method: 'GET' | 'POST'
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly form?: Readonly<Record<string, string>>
}

export interface RecordedResponse {
  readonly status: number
  readonly body: Readonly<Record<string, unknown>>
}

export interface AttemptStep {
  readonly label: string
  readonly request: RecordedRequest
  readonly response: RecordedResponse
  /** Decoded claims of tokens sent or received in this step. */
  readonly tokens: readonly { readonly label: string; readonly claims: Record<string, unknown> }[]
}

export interface AttemptResult {
  readonly id: string
  readonly path: PathId
  readonly title: string
  /** What the attacker tries, in one sentence. */
  readonly goal: string
  readonly holds: AttackerHolds
  readonly steps: readonly AttemptStep[]
  readonly verdict: AttackVerdict
  readonly reason: string
  /** Whose data App B served, if any. */
  readonly reachedUser?: string
}

export interface AttackLabConfig {
  /** The IdP's issuer URL; its token endpoint is `${issuer}/token`. */
  readonly issuer: string
  /** App B's base URL (its service API). */
  readonly serviceUrl: string
  /** App A's client credentials and a registered redirect URI (for the attacker's login). */
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUri: string
  /** The target service's client_id, e.g. app-b. */
  readonly audience: string
  /** Another configured audience App A's exchange policy does not allow. Default: App A itself. */
  readonly forbiddenAudience?: string
  readonly scope: string
  readonly attacker: { readonly username: string; readonly password: string }
  readonly victim: { readonly username: string; readonly sub: string }
  readonly fetch?: typeof fetch
}

export interface BlastRadius {
  readonly path: PathId
  readonly title: string
  /** Users whose data the compromised App A reached in this run, by username where known. */
  readonly reached: readonly string[]
  /** True when a user was reached without any token of theirs. */
  readonly reachesEveryUser: boolean
  readonly summary: string
}

export interface AttackReport {
  readonly ranAt: string
  readonly issuer: string
  readonly serviceUrl: string
  readonly attacker: string
  readonly victim: string
  /** The three paths run as the attacker's own user (what App A does legitimately). */
  readonly paths: readonly PathResult[]
  readonly attempts: readonly AttemptResult[]
  readonly blastRadius: readonly BlastRadius[]
  readonly matrix: readonly MatrixRow[]
}

// ---------------------------------------------------------------------------------------------
// Recording without secrets

/** `«jwt sub=… aud=… (N chars)»`: enough to tell tokens apart, nothing usable. */
export function describeToken(token: string): string {
  const claims = decodeClaims(token)
  const parts = ['sub', 'aud', 'client_id']
    .filter((name) => claims[name] !== undefined)
    .map((name) => `${name}=${JSON.stringify(claims[name])}`)
  return `«jwt ${parts.join(' ')} (${token.length} chars)»`
}

const TOKEN_FIELDS = new Set([
  'subject_token',
  'actor_token',
  'client_assertion',
  'access_token',
  'refresh_token',
  'id_token',
])

function redactForm(form: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(form).map(([key, value]) => [
      key,
      TOKEN_FIELDS.has(key) ? describeToken(value) : value,
    ]),
  )
}

function redactBody(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(body).map(([key, value]) => [
      key,
      TOKEN_FIELDS.has(key) && typeof value === 'string'
        ? describeToken(value)
        : key === 'todos' && Array.isArray(value)
          ? value.map((todo: Record<string, unknown>) => ({
              title: todo.title,
              completed: todo.completed,
            }))
          : value,
    ]),
  )
}

function tokenRequestStep(
  label: string,
  endpoint: string,
  form: Record<string, string>,
  clientId: string | undefined,
  answer: { status: number; body: Record<string, unknown> },
): AttemptStep {
  const tokens: { label: string; claims: Record<string, unknown> }[] = []
  for (const field of ['subject_token', 'client_assertion']) {
    if (form[field]) tokens.push({ label: `sent ${field}`, claims: decodeClaims(form[field]!) })
  }
  if (typeof answer.body.access_token === 'string') {
    tokens.push({ label: 'issued access_token', claims: decodeClaims(answer.body.access_token) })
  }
  return {
    label,
    request: {
      method: 'POST',
      url: endpoint,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(clientId ? { authorization: `Basic ${clientId}:••••` } : {}),
      },
      form: redactForm(form),
    },
    response: { status: answer.status, body: redactBody(answer.body) },
    tokens,
  }
}

function serviceStep(
  label: string,
  target: PathTarget,
  path: string,
  token: string,
  headers: Record<string, string>,
  answer: { status: number; body: Record<string, unknown> },
): AttemptStep {
  return {
    label,
    request: {
      method: 'GET',
      url: `${target.serviceUrl}${path}`,
      headers: { authorization: `Bearer ${describeToken(token)}`, ...headers },
    },
    response: { status: answer.status, body: redactBody(answer.body) },
    tokens: [{ label: 'bearer token', claims: decodeClaims(token) }],
  }
}

// ---------------------------------------------------------------------------------------------
// Forged subject tokens

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** An ES256 JWT signed with a key the attacker made up, under the IdP's `kid`. */
export function forgeSelfSigned(claims: Record<string, unknown>, kid: string | undefined): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const input = `${b64url({ alg: 'ES256', typ: 'at+jwt', ...(kid ? { kid } : {}) })}.${b64url(claims)}`
  const signature = cryptoSign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  })
  return `${input}.${signature.toString('base64url')}`
}

/** A real token whose payload was edited: the original header and signature kept. */
export function tamperPayload(token: string, changes: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.')
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >
  return `${header}.${b64url({ ...claims, ...changes })}.${signature}`
}

function headerKid(token: string): string | undefined {
  try {
    const header = JSON.parse(
      Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8'),
    ) as { kid?: unknown }
    return typeof header.kid === 'string' ? header.kid : undefined
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// The attempts

interface LabContext {
  readonly config: AttackLabConfig
  readonly target: PathTarget
  readonly tokenEndpoint: string
  /** The attacker's own App A access token (bob). Stands in for any user token App A holds. */
  readonly attackerToken: string
  readonly attackerSub: string
}

function exchangeForm(ctx: LabContext, subjectToken: string, audience = ctx.config.audience) {
  return {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    audience,
    scope: ctx.config.scope,
  }
}

/** Exchange (with App A's secret), then read the todos with what came back. */
async function exchangeThenRead(
  ctx: LabContext,
  label: string,
  subjectToken: string,
  options: { audience?: string; authenticate?: boolean; headers?: Record<string, string> } = {},
): Promise<{
  steps: AttemptStep[]
  served?: { user?: string; status: number; body: Record<string, unknown> }
  issued?: boolean
  answer: { status: number; body: Record<string, unknown> }
}> {
  const authenticate = options.authenticate ?? true
  const form = exchangeForm(ctx, subjectToken, options.audience)
  const answer = await requestToken(ctx.target, form, authenticate)
  const steps = [
    tokenRequestStep(
      label,
      ctx.tokenEndpoint,
      form,
      authenticate ? ctx.config.clientId : undefined,
      answer,
    ),
  ]
  const token = answer.body.access_token
  if (answer.status !== 200 || typeof token !== 'string') return { steps, answer }
  const call = await callService(ctx.target, '/api/todos', token, options.headers ?? {})
  steps.push(
    serviceStep(
      'read the todos with the issued token',
      ctx.target,
      '/api/todos',
      token,
      options.headers ?? {},
      call,
    ),
  )
  return {
    steps,
    answer,
    issued: true,
    served: { user: call.user, status: call.status, body: call.body },
  }
}

function errorOf(answer: { status: number; body: Record<string, unknown> }): string {
  const error = typeof answer.body.error === 'string' ? answer.body.error : `HTTP ${answer.status}`
  return `${answer.status} ${error}`
}

type Attempt = (ctx: LabContext) => Promise<AttemptResult>

const headerForgeryM2m: Attempt = async (ctx) => {
  const base = {
    id: 'm2m-header-forgery',
    path: 'm2m-header',
    title: 'Header forgery on the M2M + header path',
    goal: `Get App A's own service token, then ask App B for ${ctx.config.victim.username}'s todos by writing her sub in X-User-Sub.`,
    holds: 'client-secret',
  } as const
  const form = serviceTokenForm(ctx.target)
  const answer = await requestToken(ctx.target, form, true)
  const steps = [
    tokenRequestStep(
      "client_credentials with App A's secret",
      ctx.tokenEndpoint,
      form,
      ctx.config.clientId,
      answer,
    ),
  ]
  const token = answer.body.access_token
  if (answer.status !== 200 || typeof token !== 'string') {
    return { ...base, steps, verdict: 'BLOCKED', reason: `no service token: ${errorOf(answer)}` }
  }
  const headers = { [USER_HEADER]: ctx.config.victim.sub }
  const call = await callService(ctx.target, '/api/todos', token, headers)
  steps.push(
    serviceStep(
      `read todos with X-User-Sub = ${ctx.config.victim.username}`,
      ctx.target,
      '/api/todos',
      token,
      headers,
      call,
    ),
  )
  if (call.status === 200 && call.user === ctx.config.victim.sub) {
    return {
      ...base,
      steps,
      verdict: 'LEAKED',
      reachedUser: call.user,
      reason: `App B served ${ctx.config.victim.username}'s ${call.count ?? 0} todos (decidedBy ${call.decidedBy}): App A's secret plus a header naming her is all it takes — no token of hers was involved.`,
    }
  }
  return {
    ...base,
    steps,
    verdict: 'BLOCKED',
    ...(call.user ? { reachedUser: call.user } : {}),
    reason:
      call.status === 200
        ? `App B served ${call.user} (decidedBy ${call.decidedBy}), not ${ctx.config.victim.username}${call.headerIgnored ? `: ${call.headerIgnored}` : ''}`
        : `App B refused: ${call.status} ${call.error ?? ''}`.trim(),
  }
}

const headerForgeryRfc8693: Attempt = async (ctx) => {
  const base = {
    id: 'rfc8693-header-forgery',
    path: 'rfc8693',
    title: 'Header forgery alongside a valid RFC 8693 token',
    goal: `Exchange ${ctx.config.attacker.username}'s own token properly, then add X-User-Sub = ${ctx.config.victim.username} to the call.`,
    holds: 'client-secret',
  } as const
  const headers = { [USER_HEADER]: ctx.config.victim.sub }
  const run = await exchangeThenRead(
    ctx,
    `exchange ${ctx.config.attacker.username}'s token (RFC 8693)`,
    ctx.attackerToken,
    { headers },
  )
  if (!run.served)
    return {
      ...base,
      steps: run.steps,
      verdict: 'BLOCKED',
      reason: `exchange refused: ${errorOf(run.answer)}`,
    }
  const body = run.served.body
  if (run.served.status === 200 && run.served.user === ctx.config.victim.sub) {
    return {
      ...base,
      steps: run.steps,
      verdict: 'LEAKED',
      reachedUser: run.served.user,
      reason: `App B honoured the header over the token's sub (decidedBy ${String(body.decidedBy)})`,
    }
  }
  return {
    ...base,
    steps: run.steps,
    verdict: 'BLOCKED',
    ...(run.served.user ? { reachedUser: run.served.user } : {}),
    reason:
      run.served.status === 200
        ? `App B served the token's own user (${ctx.config.attacker.username}, decidedBy ${String(body.decidedBy)}); ${String(body.headerIgnored ?? 'header ignored')}`
        : `App B refused: ${errorOf(run.served)}`,
  }
}

function victimClaims(ctx: LabContext): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return {
    ...decodeClaims(ctx.attackerToken),
    sub: ctx.config.victim.sub,
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
  }
}

function refusedOrServed(
  base: Omit<AttemptResult, 'steps' | 'verdict' | 'reason'>,
  ctx: LabContext,
  run: Awaited<ReturnType<typeof exchangeThenRead>>,
  refusedBy: string,
): AttemptResult {
  if (!run.served) {
    return {
      ...base,
      steps: run.steps,
      verdict: 'BLOCKED',
      reason: `${refusedBy} refused it: ${errorOf(run.answer)}${typeof run.answer.body.error_description === 'string' ? ` (${run.answer.body.error_description})` : ''}`,
    }
  }
  if (run.served.status === 200 && run.served.user === ctx.config.victim.sub) {
    return {
      ...base,
      steps: run.steps,
      verdict: 'LEAKED',
      reachedUser: run.served.user,
      reason: `a token was issued and App B served ${ctx.config.victim.username}'s todos`,
    }
  }
  return {
    ...base,
    steps: run.steps,
    verdict: run.issued ? 'LEAKED' : 'BLOCKED',
    ...(run.served.user ? { reachedUser: run.served.user } : {}),
    reason: `the IdP issued a token it should not have (App B answered ${run.served.status})`,
  }
}

const selfSignedSubject: Attempt = async (ctx) => {
  const base = {
    id: 'rfc8693-self-signed-subject',
    path: 'rfc8693',
    title: 'Exchange a self-signed subject token claiming the victim',
    goal: `Sign a token that says sub = ${ctx.config.victim.username} with a key the attacker made up (under the IdP's kid) and exchange it.`,
    holds: 'client-secret',
  } as const
  const forged = forgeSelfSigned(victimClaims(ctx), headerKid(ctx.attackerToken))
  return refusedOrServed(
    base,
    ctx,
    await exchangeThenRead(ctx, 'exchange the self-signed token', forged),
    'the IdP',
  )
}

const tamperedSubject: Attempt = async (ctx) => {
  const base = {
    id: 'rfc8693-tampered-subject',
    path: 'rfc8693',
    title: 'Exchange a tampered subject token claiming the victim',
    goal: `Take ${ctx.config.attacker.username}'s real token, change sub to ${ctx.config.victim.username}, keep the signature, and exchange it.`,
    holds: 'client-secret',
  } as const
  const tampered = tamperPayload(ctx.attackerToken, { sub: ctx.config.victim.sub })
  return refusedOrServed(
    base,
    ctx,
    await exchangeThenRead(ctx, 'exchange the tampered token', tampered),
    'the IdP',
  )
}

const foreignAudience: Attempt = async (ctx) => {
  const audience = ctx.config.forbiddenAudience ?? ctx.config.clientId
  const base = {
    id: 'rfc8693-foreign-audience',
    path: 'rfc8693',
    title: 'Exchange toward an audience App A is not allowed',
    goal: `Exchange ${ctx.config.attacker.username}'s token for audience "${audience}", which App A's exchange policy does not list.`,
    holds: 'client-secret',
  } as const
  const run = await exchangeThenRead(ctx, `exchange for audience ${audience}`, ctx.attackerToken, {
    audience,
  })
  if (!run.issued) {
    return {
      ...base,
      steps: run.steps,
      verdict: 'BLOCKED',
      reason: `the IdP refused it: ${errorOf(run.answer)} (per-client allowed audiences, lesson S1)`,
    }
  }
  return {
    ...base,
    steps: run.steps,
    verdict: 'LEAKED',
    reason: `the IdP issued a token for ${audience}`,
  }
}

const stolenTokenRfc8693: Attempt = async (ctx) => {
  const base = {
    id: 'rfc8693-stolen-token-no-secret',
    path: 'rfc8693',
    title: 'A stolen user token through RFC 8693, without a client secret',
    goal: `Holding only a user's App A access token (here ${ctx.config.attacker.username}'s, standing in for a stolen one), exchange it with no client authentication.`,
    holds: 'stolen-user-token',
  } as const
  const run = await exchangeThenRead(
    ctx,
    'exchange without client authentication',
    ctx.attackerToken,
    { authenticate: false },
  )
  if (!run.served || run.served.status !== 200) {
    return {
      ...base,
      steps: run.steps,
      verdict: 'BLOCKED',
      reason: `the IdP refused it: ${errorOf(run.answer)} (token exchange needs a confidential client)`,
    }
  }
  return {
    ...base,
    steps: run.steps,
    verdict: 'LEAKED',
    ...(run.served.user ? { reachedUser: run.served.user } : {}),
    reason: 'the IdP exchanged a token for a caller that did not authenticate',
  }
}

async function federationThenRead(ctx: LabContext, label: string, assertion: string) {
  const form = federationForm(ctx.target, assertion)
  const answer = await requestToken(ctx.target, form, false)
  const steps = [tokenRequestStep(label, ctx.tokenEndpoint, form, undefined, answer)]
  const token = answer.body.access_token
  if (answer.status !== 200 || typeof token !== 'string') return { steps, answer }
  const call = await callService(ctx.target, '/api/todos', token)
  steps.push(
    serviceStep(
      'read the todos with the re-issued token',
      ctx.target,
      '/api/todos',
      token,
      {},
      call,
    ),
  )
  return {
    steps,
    answer,
    issued: true,
    served: { user: call.user, status: call.status, body: call.body, count: call.count },
  }
}

const stolenTokenFederation: Attempt = async (ctx) => {
  const base = {
    id: 'federation-stolen-token-no-secret',
    path: 'jwt-federation',
    title: 'A stolen user token through the federation path, no client secret at all',
    goal: `Holding only a user's App A access token (here ${ctx.config.attacker.username}'s, standing in for a stolen one), post it as client_assertion with client_id=${ctx.config.audience} and no secret.`,
    holds: 'stolen-user-token',
  } as const
  const run = await federationThenRead(
    ctx,
    'client_credentials + client_assertion, no secret',
    ctx.attackerToken,
  )
  if (run.served && run.served.status === 200) {
    return {
      ...base,
      steps: run.steps,
      verdict: 'LEAKED',
      ...(run.served.user ? { reachedUser: run.served.user } : {}),
      reason: `the IdP issued an App B token without any client authentication and App B served that user's ${run.served.count ?? 0} todos: whoever holds a user's App A token gets App B as that user`,
    }
  }
  return {
    ...base,
    steps: run.steps,
    verdict: 'BLOCKED',
    reason: run.served
      ? `App B refused the re-issued token: ${errorOf(run.served)}`
      : `the IdP refused it: ${errorOf(run.answer)}`,
  }
}

const forgedAssertionFederation: Attempt = async (ctx) => {
  const base = {
    id: 'federation-forged-assertion',
    path: 'jwt-federation',
    title: 'A self-signed assertion claiming the victim through the federation path',
    goal: `Sign a token that says sub = ${ctx.config.victim.username} with a made-up key and post it as client_assertion.`,
    holds: 'client-secret',
  } as const
  const forged = forgeSelfSigned(victimClaims(ctx), headerKid(ctx.attackerToken))
  const run = await federationThenRead(ctx, 'client_assertion = self-signed token', forged)
  if (run.served && run.served.status === 200 && run.served.user === ctx.config.victim.sub) {
    return {
      ...base,
      steps: run.steps,
      verdict: 'LEAKED',
      reachedUser: run.served.user,
      reason: `App B served ${ctx.config.victim.username}'s todos`,
    }
  }
  return {
    ...base,
    steps: run.steps,
    verdict: run.issued ? 'LEAKED' : 'BLOCKED',
    reason: run.issued
      ? 'the IdP re-issued a forged assertion'
      : `the IdP refused it: ${errorOf(run.answer)} (the assertion's signature is checked)`,
  }
}

export const ATTEMPTS: readonly Attempt[] = Object.freeze([
  headerForgeryM2m,
  headerForgeryRfc8693,
  selfSignedSubject,
  tamperedSubject,
  foreignAudience,
  stolenTokenRfc8693,
  stolenTokenFederation,
  forgedAssertionFederation,
])

// ---------------------------------------------------------------------------------------------

function blastRadiusOf(
  paths: readonly PathResult[],
  attempts: readonly AttemptResult[],
  config: AttackLabConfig,
  attackerSub: string,
): BlastRadius[] {
  const names = new Map([
    [attackerSub, config.attacker.username],
    [config.victim.sub, config.victim.username],
  ])
  return paths.map((path) => {
    const reached = new Set<string>()
    if (path.ok && path.serviceCall?.user) reached.add(path.serviceCall.user)
    const compromised = attempts.filter((a) => a.path === path.id && a.holds === 'client-secret')
    for (const attempt of compromised) {
      if (attempt.verdict === 'LEAKED' && attempt.reachedUser) reached.add(attempt.reachedUser)
    }
    const reachesEveryUser = compromised.some(
      (a) => a.verdict === 'LEAKED' && a.reachedUser === config.victim.sub,
    )
    const list = [...reached].map((sub) => names.get(sub) ?? sub)
    const blocked = compromised.filter((a) => a.verdict === 'BLOCKED').length
    return {
      path: path.id,
      title: path.title,
      reached: list,
      reachesEveryUser,
      summary: reachesEveryUser
        ? `every user: it reached ${config.victim.username} with no token of hers (any sub works)`
        : `only users whose live tokens App A holds (reached: ${list.join(', ') || 'nobody'}; ${config.victim.username} blocked in ${blocked} attempt${blocked === 1 ? '' : 's'})`,
    }
  })
}

/** Runs the three paths as the attacker, then every attempt, and computes the matrix. */
export async function runAttackLab(config: AttackLabConfig): Promise<AttackReport> {
  const issuer = config.issuer.replace(/\/+$/, '')
  const tokenEndpoint = `${issuer}/token`
  const target: PathTarget = {
    tokenEndpoint,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    audience: config.audience,
    serviceUrl: config.serviceUrl.replace(/\/+$/, ''),
    scope: config.scope,
    ...(config.fetch ? { fetch: config.fetch } : {}),
  }
  const attackerToken = await loginWithPassword({
    issuer,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    redirectUri: config.redirectUri,
    username: config.attacker.username,
    password: config.attacker.password,
    scope: `openid ${config.scope}`,
    ...(config.fetch ? { fetch: config.fetch } : {}),
  })
  const attackerSub = String(decodeClaims(attackerToken).sub ?? '')
  const ctx: LabContext = { config, target, tokenEndpoint, attackerToken, attackerSub }

  const paths = await runPaths(createPathStrategies(target), { userAccessToken: attackerToken })
  const attempts: AttemptResult[] = []
  for (const attempt of ATTEMPTS) attempts.push(await attempt(ctx))

  const blastRadius = blastRadiusOf(paths, attempts, config, attackerSub)
  return Object.freeze({
    ranAt: new Date().toISOString(),
    issuer,
    serviceUrl: target.serviceUrl,
    attacker: config.attacker.username,
    victim: config.victim.username,
    paths,
    attempts,
    blastRadius,
    matrix: buildMatrix(paths, attempts, blastRadius),
  })
}
