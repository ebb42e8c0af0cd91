/**
 * A small stand-in for the IdP, served on 127.0.0.1 port 0: discovery, JWKS, an authorization
 * "endpoint" the test drives by hand (`issueCode`), and a token endpoint for the authorization code,
 * refresh token and token exchange grants. ES256 keys, JWT access tokens (`typ: at+jwt`).
 */
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyFormbody from '@fastify/formbody'
import { exportJWK, generateKeyPair, SignJWT, decodeJwt, type CryptoKey, type JWK } from 'jose'

export interface FakeTokenRequest {
  grantType: string
  authorization: string | undefined
  body: Record<string, string>
}

export type ExchangeBehaviour =
  | { kind: 'ok'; expiresIn?: number }
  | { kind: 'error'; status: number; error: string; description?: string }
  | { kind: 'raw'; status: number; body: string; contentType?: string }
  | { kind: 'hang' }

export interface FakeOp {
  url: string
  clientId: string
  clientSecret: string
  requests: FakeTokenRequest[]
  exchangeBehaviour: ExchangeBehaviour
  accessTokenLifetime: number
  refreshBehaviour: 'ok' | 'invalid_grant'
  publicJwk: JWK
  issueCode(input: { nonce: string; codeChallenge: string; user: FakeUser }): string
  signAccessToken(claims: Record<string, unknown>): Promise<string>
  close(): Promise<void>
}

export interface FakeUser {
  sub: string
  name?: string
  preferred_username?: string
  email?: string
}

export async function startFakeOp(
  options: { clientId?: string; clientSecret?: string; now?: () => number; port?: number } = {},
): Promise<FakeOp> {
  const clientId = options.clientId ?? 'app-a'
  const clientSecret = options.clientSecret ?? 'app-a secret:with/odd+chars&='
  /** Epoch seconds, as every clock in src/. */
  const now = options.now ?? (() => Date.now() / 1000)
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
  const codes = new Map<string, { nonce: string; codeChallenge: string; user: FakeUser }>()
  const refreshTokens = new Map<string, FakeUser>()
  const app: FastifyInstance = Fastify()
  await app.register(fastifyFormbody)
  let url = ''

  const sign = (key: CryptoKey, typ: string, claims: Record<string, unknown>) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ })
      .setIssuer(url)
      .setIssuedAt(Math.floor(now()))
      .sign(key)

  const op: FakeOp = {
    url: '',
    clientId,
    clientSecret,
    requests: [],
    exchangeBehaviour: { kind: 'ok' },
    accessTokenLifetime: 3600,
    refreshBehaviour: 'ok',
    publicJwk,
    issueCode(input) {
      const code = randomUUID()
      codes.set(code, input)
      return code
    },
    signAccessToken: (claims) => sign(privateKey, 'at+jwt', claims),
    close: () => app.close(),
  }

  /** RFC 6749 §2.3.1: both parts are form-urlencoded inside the Basic credentials. */
  const clientAuthenticated = (header: string | undefined) => {
    if (!header?.startsWith('Basic ')) return false
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 0) return false
    const formDecode = (v: string) => decodeURIComponent(v.replace(/\+/g, '%20'))
    try {
      return (
        formDecode(decoded.slice(0, colon)) === clientId &&
        formDecode(decoded.slice(colon + 1)) === clientSecret
      )
    } catch {
      return false
    }
  }

  async function userAccessToken(user: FakeUser): Promise<string> {
    const iat = Math.floor(now())
    return sign(privateKey, 'at+jwt', {
      sub: user.sub,
      aud: clientId,
      client_id: clientId,
      scope: 'openid profile email offline_access todos:read',
      exp: iat + op.accessTokenLifetime,
      jti: randomUUID(),
    })
  }

  app.get('/.well-known/openid-configuration', async () => ({
    issuer: url,
    authorization_endpoint: `${url}/auth`,
    token_endpoint: `${url}/token`,
    end_session_endpoint: `${url}/session/end`,
    jwks_uri: `${url}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic'],
    grant_types_supported: [
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ],
  }))
  app.get('/jwks', async () => ({ keys: [publicJwk] }))

  app.post('/token', async (request, reply) => {
    const body = request.body as Record<string, string>
    op.requests.push({
      grantType: body.grant_type ?? '',
      authorization: request.headers.authorization,
      body,
    })
    reply.header('cache-control', 'no-store')
    if (!clientAuthenticated(request.headers.authorization)) {
      return reply
        .code(401)
        .send({ error: 'invalid_client', error_description: 'client authentication failed' })
    }
    const iat = Math.floor(now())
    if (body.grant_type === 'authorization_code') {
      const entry = codes.get(body.code ?? '')
      codes.delete(body.code ?? '')
      if (!entry)
        return reply
          .code(400)
          .send({ error: 'invalid_grant', error_description: 'grant request is invalid' })
      const { createHash } = await import('node:crypto')
      const challenge = createHash('sha256')
        .update(body.code_verifier ?? '')
        .digest('base64url')
      if (challenge !== entry.codeChallenge) {
        return reply
          .code(400)
          .send({ error: 'invalid_grant', error_description: 'PKCE verification failed' })
      }
      const refreshToken = randomUUID()
      refreshTokens.set(refreshToken, entry.user)
      const idToken = await sign(privateKey, 'JWT', {
        ...entry.user,
        aud: clientId,
        nonce: entry.nonce,
        exp: iat + 600,
      })
      return {
        access_token: await userAccessToken(entry.user),
        token_type: 'Bearer',
        expires_in: op.accessTokenLifetime,
        refresh_token: refreshToken,
        id_token: idToken,
        scope: 'openid profile email offline_access todos:read',
      }
    }
    if (body.grant_type === 'refresh_token') {
      const user = refreshTokens.get(body.refresh_token ?? '')
      if (!user || op.refreshBehaviour === 'invalid_grant') {
        return reply
          .code(400)
          .send({ error: 'invalid_grant', error_description: 'grant request is invalid' })
      }
      refreshTokens.delete(body.refresh_token ?? '')
      const rotated = randomUUID()
      refreshTokens.set(rotated, user)
      return {
        access_token: await userAccessToken(user),
        token_type: 'Bearer',
        expires_in: op.accessTokenLifetime,
        refresh_token: rotated,
      }
    }
    if (body.grant_type === 'urn:ietf:params:oauth:grant-type:token-exchange') {
      const behaviour = op.exchangeBehaviour
      if (behaviour.kind === 'hang') return new Promise(() => {})
      if (behaviour.kind === 'raw') {
        return reply
          .code(behaviour.status)
          .type(behaviour.contentType ?? 'text/plain')
          .send(behaviour.body)
      }
      if (behaviour.kind === 'error') {
        return reply.code(behaviour.status).send({
          error: behaviour.error,
          ...(behaviour.description ? { error_description: behaviour.description } : {}),
        })
      }
      const subject = decodeJwt(body.subject_token ?? '')
      const expiresIn = behaviour.expiresIn ?? 300
      const accessToken = await sign(privateKey, 'at+jwt', {
        sub: subject.sub,
        aud: body.audience,
        azp: clientId,
        client_id: clientId,
        act: { sub: clientId, iss: url },
        scope: body.scope ?? 'todos:read',
        exp: iat + expiresIn,
        jti: randomUUID(),
      })
      return {
        access_token: accessToken,
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        token_type: 'Bearer',
        expires_in: expiresIn,
        scope: body.scope ?? 'todos:read',
      }
    }
    return reply.code(400).send({ error: 'unsupported_grant_type' })
  })

  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('no address')
  url = `http://127.0.0.1:${address.port}`
  op.url = url
  return op
}

/** Minimal cookie jar for `app.inject()` round trips. */
export class CookieJar {
  readonly cookies = new Map<string, string>()
  store(setCookie: string | string[] | undefined): void {
    for (const line of [setCookie ?? []].flat()) {
      const [pair] = line.split(';')
      const index = pair!.indexOf('=')
      const name = pair!.slice(0, index)
      const value = pair!.slice(index + 1)
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
}

interface Injectable {
  inject(options: {
    method?: 'GET' | 'POST'
    url: string
    headers?: Record<string, string>
  }): Promise<{
    statusCode: number
    headers: Record<string, string | string[] | number | undefined>
    body: string
  }>
}

/** Drives `/auth/login` → (fake IdP) → `/auth/callback` and returns the final redirect target. */
export async function loginThroughCallback(
  app: Injectable,
  op: FakeOp,
  jar: CookieJar,
  user: FakeUser,
  loginUrl = '/auth/login',
): Promise<string> {
  const login = await app.inject({ url: loginUrl, headers: { cookie: jar.header() } })
  if (login.statusCode !== 303) throw new Error(`login answered ${login.statusCode}: ${login.body}`)
  jar.store(login.headers['set-cookie'] as string[] | string | undefined)
  const authorize = new URL(String(login.headers.location))
  const code = op.issueCode({
    nonce: authorize.searchParams.get('nonce')!,
    codeChallenge: authorize.searchParams.get('code_challenge')!,
    user,
  })
  const state = authorize.searchParams.get('state')!
  const callback = await app.inject({
    url: `/auth/callback?code=${encodeURIComponent(code)}&state=${encodeURIComponent(state)}`,
    headers: { cookie: jar.header() },
  })
  if (callback.statusCode !== 303)
    throw new Error(`callback answered ${callback.statusCode}: ${callback.body}`)
  jar.store(callback.headers['set-cookie'] as string[] | string | undefined)
  return String(callback.headers.location)
}
