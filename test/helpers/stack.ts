/**
 * Starts the real system for a test: the embedded IdP and optionally App A, App B, App C and the
 * STS, each on a 127.0.0.1 socket bound to port 0 before anything is built (test/helpers/listen.ts),
 * with a fresh temporary data folder. Nothing is mocked.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { configVariables, loadEnv, type Env } from '../../src/config/env.js'
import { createLogger, type Logger } from '../../src/log/logger.js'
import { buildIdp, type Idp, type IdpOptions } from '../../src/idp/app.js'
import { bindSocket, type BoundSocket } from './listen.js'
import { TestBrowser } from './browser.js'

export type ServiceName = 'appA' | 'appB' | 'appC' | 'sts'

export interface Stack {
  env: Env
  idp: Idp
  appA?: FastifyInstance
  appB?: FastifyInstance
  appC?: FastifyInstance
  sts?: FastifyInstance
  /**
   * Serves an app the test built itself at that service's URL (`env.APP_B_URL`, …), when the
   * stack was started without `apps`. The test closes that app; `close()` closes the socket.
   */
  serve(name: ServiceName, app: FastifyInstance): Promise<void>
  close(): Promise<void>
}

export interface StackOptions {
  apps?: boolean
  /** Extra environment (e.g. LOG_LEVEL=debug while investigating), or a function of the issuer. */
  env?: Record<string, string> | ((urls: { issuer: string }) => Record<string, string>)
  dataDir?: string
  /** A logger to capture log lines (defaults to a silent one). */
  logger?: Logger
  /** More options for the IdP (a policy variant, abuse limits), given the stack's env. */
  idp?: (env: Env) => Partial<Omit<IdpOptions, 'env' | 'logger'>>
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  // Every service's socket is bound first (port 0): the IdP's clients name App A's and App B's
  // URLs, and the apps name the IdP's, so all URLs exist before anything is built.
  const sockets: BoundSocket[] = []
  const bind = async () => {
    const socket = await bindSocket()
    sockets.push(socket)
    return socket
  }
  const started: FastifyInstance[] = []
  const close = async () => {
    for (const socket of sockets) await socket.close()
    for (const app of started.reverse()) await app.close()
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true })
  }
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'onbehalf-test-'))
  try {
    const [idpSocket, appASocket, appBSocket, appCSocket, stsSocket] = [
      await bind(),
      await bind(),
      await bind(),
      await bind(),
      await bind(),
    ]
    const env = loadEnv({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: dataDir,
      IDP_ISSUER: idpSocket.url,
      IDP_PORT: String(idpSocket.port),
      APP_A_URL: appASocket.url,
      APP_A_PORT: String(appASocket.port),
      APP_B_URL: appBSocket.url,
      APP_B_PORT: String(appBSocket.port),
      APP_C_URL: appCSocket.url,
      APP_C_PORT: String(appCSocket.port),
      STS_ISSUER: stsSocket.url,
      STS_PORT: String(stsSocket.port),
      ...(typeof options.env === 'function' ? options.env({ issuer: idpSocket.url }) : options.env),
    })
    const logger = options.logger ?? createLogger({ level: env.LOG_LEVEL })
    const serve = async (socket: BoundSocket, app: FastifyInstance) => {
      started.push(app)
      await socket.serve(app)
      return app
    }
    const idp = await buildIdp({ env, logger, ...options.idp?.(env) })
    await serve(idpSocket, idp.app)
    let appA: FastifyInstance | undefined
    let appB: FastifyInstance | undefined
    let appC: FastifyInstance | undefined
    let sts: FastifyInstance | undefined
    if (options.apps) {
      const { buildSts } = await import('../../src/sts/app.js')
      const { readStsConfigFile } = await import('../../src/sts/config.js')
      sts = await serve(
        stsSocket,
        await buildSts(readStsConfigFile(env.STS_CONFIG, configVariables(env)), { logger }),
      )
      const { buildAppC } = await import('../../src/apps/app-c/app.js')
      appC = await serve(appCSocket, await buildAppC({ env, logger }))
      const { buildAppA } = await import('../../src/apps/app-a/app.js')
      const { buildAppB } = await import('../../src/apps/app-b/app.js')
      appB = await serve(appBSocket, await buildAppB({ env, logger }))
      const { loadUserDirectory } = await import('../../src/idp/users.js')
      appA = await serve(
        appASocket,
        await buildAppA({
          env,
          logger,
          findUserSub: (username) =>
            loadUserDirectory(env.USERS_FILE).findByUsername(username)?.sub,
        }),
      )
    }
    const unserved = new Map<ServiceName, BoundSocket>(
      options.apps
        ? []
        : [
            ['appA', appASocket],
            ['appB', appBSocket],
            ['appC', appCSocket],
            ['sts', stsSocket],
          ],
    )
    return {
      env,
      idp,
      appA,
      appB,
      appC,
      sts,
      async serve(name, app) {
        const socket = unserved.get(name)
        if (!socket) throw new TypeError(`startStack: ${name} is already served`)
        unserved.delete(name)
        await socket.serve(app)
      },
      close,
    }
  } catch (error) {
    await close()
    throw error
  }
}

export interface LoginTokens {
  access_token: string
  id_token: string
  refresh_token?: string
  expires_in: number
  scope: string
  /** `Bearer`, or `DPoP` when the code exchange carried a proof. */
  token_type: string
}

export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`
}

export function clientSecretOf(env: Env, clientId: string): string {
  return clientId === 'app-a' ? env.APP_A_CLIENT_SECRET : env.APP_B_CLIENT_SECRET
}

/**
 * Logs `username` in at the IdP for `clientId` through the real authorization code + PKCE flow
 * (the login form included) and redeems the code at the token endpoint.
 */
export async function loginForTokens(
  stack: Stack,
  {
    clientId = 'app-a',
    username = 'demo',
    password = 'changeme',
    scope = 'openid profile email todos:read',
    browser = new TestBrowser(),
    dpopProof,
  }: {
    clientId?: string
    username?: string
    password?: string
    scope?: string
    browser?: TestBrowser
    /** A DPoP proof for the code exchange at `${issuer}/token`: the login token is bound to its key. */
    dpopProof?: (tokenEndpoint: string) => Promise<string>
  } = {},
): Promise<LoginTokens> {
  const redirectUri = `${clientId === 'app-a' ? stack.env.APP_A_URL : stack.env.APP_B_URL}/auth/callback`
  const verifier = randomBytes(32).toString('base64url')
  const authorize = new URL(`${stack.idp.issuer}/auth`)
  authorize.search = new URLSearchParams({
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope,
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString()
  const stopAt = (url: string) => url.startsWith(redirectUri)
  let page = await browser.navigate(authorize.href, {}, { stopAt })
  if (!stopAt(page.url)) {
    page = await browser.submitForm(page, { username, password }, '/login', { stopAt })
    if (!stopAt(page.url)) throw new Error(`login did not complete: ${page.status} ${page.url}`)
  }
  const code = new URL(page.url).searchParams.get('code')
  if (!code) throw new Error(`no code in ${page.url}`)
  const response = await fetch(`${stack.idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: basicAuth(clientId, clientSecretOf(stack.env, clientId)),
      'content-type': 'application/x-www-form-urlencoded',
      ...(dpopProof ? { dpop: await dpopProof(`${stack.idp.issuer}/token`) } : {}),
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }),
  })
  const body = (await response.json()) as LoginTokens & { error?: string }
  if (!response.ok) throw new Error(`token request failed: ${JSON.stringify(body)}`)
  return body
}

export function decodeJwt(token: string): {
  header: Record<string, unknown>
  payload: Record<string, unknown>
} {
  const [header, payload] = token.split('.')
  return {
    header: JSON.parse(Buffer.from(header!, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(payload!, 'base64url').toString()),
  }
}

export async function exchangeToken(
  stack: Stack,
  params: Record<string, string | string[]>,
  {
    clientId = 'app-a',
    secret,
    authorization,
    tokenEndpoint = `${stack.idp.issuer}/token`,
    headers: extraHeaders = {},
  }: {
    clientId?: string
    secret?: string
    authorization?: string | null
    tokenEndpoint?: string
    /** More request headers (`DPoP`); an array value sends the header once per item. */
    headers?: Record<string, string | string[]>
  } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, any> }> {
  const form = new URLSearchParams()
  form.set('grant_type', 'urn:ietf:params:oauth:grant-type:token-exchange')
  for (const [key, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) form.append(key, item)
  }
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
  const auth =
    authorization === undefined
      ? basicAuth(clientId, secret ?? clientSecretOf(stack.env, clientId))
      : authorization
  if (auth) headers.authorization = auth
  const all = new Headers(headers)
  for (const [name, value] of Object.entries(extraHeaders)) {
    for (const item of Array.isArray(value) ? value : [value]) all.append(name, item)
  }
  const response = await fetch(tokenEndpoint, { method: 'POST', headers: all, body: form })
  const text = await response.text()
  let body: Record<string, any>
  try {
    body = JSON.parse(text)
  } catch {
    body = { raw: text }
  }
  return { status: response.status, headers: response.headers, body }
}
