/**
 * Keycloak beside onbehalf (issue 18): a real Keycloak at KEYCLOAK_URL (`onbehalf keycloak up`),
 * driven through its own standard token exchange (RFC 8693, V2) with the same wrk load as the
 * onbehalf phases.
 *
 * - A fresh realm per run, imported from deploy/keycloak/realm-onbehalf.json over the Admin REST
 *   API and set up by `onbehalf setup keycloak`'s planner (the audience scope, token shapes), then
 *   deleted: the bench never changes the realm the demo or the live tests use.
 * - Subject tokens from real logins at Keycloak's own login form (authorization code + PKCE; no
 *   password grant), each followed by refresh-token grants (every one issues a new access token).
 * - The JVM is found by the port it listens on (/proc/net/tcp{,6} → socket inode → /proc/<pid>/fd),
 *   not taken on trust: its CPU time (utime+stime of every thread) is what is measured, and its
 *   command line and KC_* / JAVA_OPTS* variables (no secrets) are recorded as the settings used.
 * - Before any load, one exchanged token is verified against the realm's JWKS (signature, iss,
 *   aud app-b, sub = demo's id, azp app-a, no act): the row cannot be filled by something else
 *   answering 200.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import { connectKeycloakAdmin, type KeycloakAdmin } from '../../src/keycloak/admin_client.js'
import {
  DEFAULT_TARGET,
  applyKeycloakPlan,
  planKeycloakSetup,
  readKeycloakState,
} from '../../src/keycloak/setup/index.js'
import { packageFile } from '../../src/config/package_files.js'
import { signInWithLoginForm } from '../../src/demo/form_login.js'
import { basicAuthorization } from '../../src/client/token_exchange_client.js'
import type { HttpRequest } from './wrk.js'

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const FORM = 'application/x-www-form-urlencoded'
/** What App A asks Keycloak for at login (src/apps/app-a: appALoginScope('keycloak')). */
const LOGIN_SCOPE = 'openid profile email todos:read'
/** The exchange's scope at Keycloak: the audience scope names app-b (idpProfile('keycloak')). */
const EXCHANGE_SCOPE = 'app-b-audience todos:read'

export interface KeycloakProcess {
  readonly pid: number
  /** /proc/<pid>/comm: `java`. */
  readonly command: string
  /** JVM flags and Keycloak's arguments from /proc/<pid>/cmdline (no class path). */
  readonly arguments: readonly string[]
  /** KC_* and JAVA_OPTS* variables of the process, those naming secrets left out. */
  readonly environment: Readonly<Record<string, string>>
}

/** What one exchanged token said, checked before the load (signature against the realm's JWKS). */
export interface KeycloakVerification {
  readonly issuer: string
  readonly signatureVerified: true
  readonly alg: string
  readonly typ: string | undefined
  readonly aud: readonly string[]
  readonly sub: string
  readonly demoUserId: string
  readonly azp: string
  readonly act: null
  readonly scope: string
}

export interface KeycloakBench {
  readonly url: string
  readonly realm: string
  readonly version: string
  readonly tokenPath: string
  readonly process: KeycloakProcess
  readonly verification: KeycloakVerification
  /** The exchange requests, one per distinct subject token (renewed when near expiry). */
  requests(): Promise<HttpRequest[]>
  /** One exchange per subject token, each checked to answer 200 (before a load run). */
  checkAll(): Promise<void>
  /** Distinct subject tokens in the current pool. */
  readonly tokenCount: () => number
  /** Deletes the bench's realm. */
  close(): Promise<void>
}

const LOOPBACK = /^http:\/\/127\.0\.0\.1:(\d+)$/

const SECRET_NAME = /PASSWORD|SECRET|TOKEN|CREDENTIAL|KEY|USERNAME/i

/** The inode of the socket listening on 127.0.0.1 (or any address) at `port`, from /proc/net. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>()
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 10) continue
      const [address, localPort] = fields[1]!.split(':')
      // State 0A is LISTEN; the address is 127.0.0.1, its v4-mapped v6 form, or a wildcard.
      if (fields[3] !== '0A' || localPort !== hexPort) continue
      if (
        address === '0100007F' ||
        address === '00000000' ||
        address === '0000000000000000FFFF00000100007F' ||
        /^0+$/.test(address!)
      )
        inodes.add(fields[9]!)
    }
  }
  return inodes
}

/** The process holding the listening socket of `port`, found through /proc/<pid>/fd. */
function findListeningProcess(port: number): number | undefined {
  const inodes = listeningInodes(port)
  if (inodes.size === 0) return undefined
  const wanted = new Set([...inodes].map((inode) => `socket:[${inode}]`))
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${entry}/fd`)
    } catch {
      continue // not ours to read, or gone
    }
    for (const fd of fds) {
      try {
        if (wanted.has(readlinkSync(`/proc/${entry}/fd/${fd}`))) return Number(entry)
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined
}

function describeProcess(pid: number): KeycloakProcess {
  const read = (file: string) => {
    try {
      return readFileSync(`/proc/${pid}/${file}`, 'utf8')
    } catch {
      return ''
    }
  }
  const argv = read('cmdline').split('\0').filter(Boolean)
  const classPath = argv.findIndex((arg) => arg === '-cp' || arg === '-classpath')
  const environment: Record<string, string> = {}
  for (const pair of read('environ').split('\0')) {
    const at = pair.indexOf('=')
    const name = pair.slice(0, at)
    if (at > 0 && /^(KC_|JAVA_OPTS)/.test(name) && !SECRET_NAME.test(name))
      environment[name] = pair.slice(at + 1)
  }
  return {
    pid,
    command: read('comm').trim(),
    arguments: argv
      .slice(1)
      .filter((_, i) => classPath === -1 || (i !== classPath - 1 && i !== classPath)),
    environment,
  }
}

interface RealmFile {
  realm: string
  displayName?: string
  users?: Array<{ realmRoles?: string[] }>
  [key: string]: unknown
}

async function createBenchRealm(admin: KeycloakAdmin): Promise<string> {
  const representation = JSON.parse(
    readFileSync(packageFile('deploy/keycloak/realm-onbehalf.json'), 'utf8'),
  ) as RealmFile
  const original = representation.realm
  const realm = `onbehalf-bench-${randomBytes(4).toString('hex')}`
  representation.realm = realm
  representation.displayName = realm
  for (const user of representation.users ?? [])
    user.realmRoles = (user.realmRoles ?? []).map((role) =>
      role === `default-roles-${original}` ? `default-roles-${realm}` : role,
    )
  const created = await admin.send('POST', '/admin/realms', representation)
  if (created.status !== 201)
    throw new Error(`Keycloak: import of realm ${realm}: HTTP ${created.status}`)
  const target = { ...DEFAULT_TARGET, realm }
  await applyKeycloakPlan(admin, planKeycloakSetup(await readKeycloakState(admin, target), target))
  return realm
}

function decodePayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >
}

async function postForm(url: string, authorization: string, form: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization, 'content-type': FORM },
    body: new URLSearchParams(form).toString(),
  })
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>
  return { status: response.status, body }
}

/**
 * Connects to the Keycloak at `url`, finds its JVM, prepares a realm, logs in and verifies one
 * exchange. Throws with the reason when any of it fails (the caller prints it on the row).
 */
export async function prepareKeycloak(input: {
  readonly url: string
  readonly adminUser: string
  readonly adminPassword: string
  readonly clientSecret: string
  readonly subjectTokens: number
  /** A pool is renewed when its oldest token has less than this many seconds left. */
  readonly marginSeconds: number
}): Promise<KeycloakBench> {
  const url = input.url.replace(/\/+$/, '')
  const match = LOOPBACK.exec(url)
  if (!match) throw new Error(`KEYCLOAK_URL must be http://127.0.0.1:<port> (is ${url})`)
  const port = Number(match[1])
  const pid = findListeningProcess(port)
  if (pid === undefined)
    throw new Error(`no process found listening on 127.0.0.1:${port} (/proc/net/tcp)`)
  const jvm = describeProcess(pid)
  if (jvm.command !== 'java')
    throw new Error(`the process listening on ${port} is ${jvm.command} (pid ${pid}), not java`)

  const admin = await connectKeycloakAdmin({
    baseUrl: url,
    username: input.adminUser,
    password: input.adminPassword,
  })
  const info = await admin.send('GET', '/admin/serverinfo')
  const version = String(
    (info.body as { systemInfo?: { version?: string } }).systemInfo?.version ?? 'unknown',
  )
  const realm = await createBenchRealm(admin)
  const close = async () => {
    await admin.send('DELETE', `/admin/realms/${realm}`)
  }
  try {
    const issuer = `${url}/realms/${realm}`
    const tokenPath = `/realms/${realm}/protocol/openid-connect/token`
    const tokenEndpoint = `${url}${tokenPath}`
    const authorization = basicAuthorization('app-a', input.clientSecret)
    const users = (await admin.send('GET', `/admin/realms/${realm}/users?username=demo&exact=true`))
      .body as Array<{ id: string }>
    const demoUserId = users[0]?.id
    if (!demoUserId) throw new Error(`no user demo in ${realm}`)

    let pool = { tokens: [] as string[], exp: 0 }
    const subjectTokens = async (): Promise<readonly string[]> => {
      if (pool.exp - Date.now() / 1000 >= input.marginSeconds) return pool.tokens
      const logins = Math.min(4, input.subjectTokens)
      const perLogin = Math.ceil(input.subjectTokens / logins)
      const chains = await Promise.all(
        Array.from({ length: logins }, async () => {
          const answer = await signInWithLoginForm({
            authorizationEndpoint: `${issuer}/protocol/openid-connect/auth`,
            tokenEndpoint,
            clientId: 'app-a',
            clientSecret: input.clientSecret,
            redirectUri: 'http://127.0.0.1:3993/auth/callback',
            username: 'demo',
            password: 'changeme',
            scope: LOGIN_SCOPE,
          })
          const chain = [answer.access_token]
          let refreshToken = typeof answer.refresh_token === 'string' ? answer.refresh_token : ''
          while (chain.length < perLogin) {
            const next = await postForm(tokenEndpoint, authorization, {
              grant_type: 'refresh_token',
              refresh_token: refreshToken,
            })
            if (next.status !== 200)
              throw new Error(`Keycloak refresh_token grant: HTTP ${next.status}`)
            chain.push(String(next.body.access_token))
            if (typeof next.body.refresh_token === 'string') refreshToken = next.body.refresh_token
          }
          return chain
        }),
      )
      const tokens = chains.flat().slice(0, input.subjectTokens)
      if (new Set(tokens).size !== tokens.length) throw new Error('Keycloak subject tokens repeat')
      pool = { tokens, exp: Math.min(...tokens.map((token) => Number(decodePayload(token).exp))) }
      return pool.tokens
    }
    const form = (subjectToken: string) => ({
      grant_type: TOKEN_EXCHANGE,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: 'app-b',
      scope: EXCHANGE_SCOPE,
    })

    // One exchange, verified as App B would: the row is Keycloak's real answers or nothing.
    const first = (await subjectTokens())[0]!
    const exchanged = await postForm(tokenEndpoint, authorization, form(first))
    if (exchanged.status !== 200)
      throw new Error(
        `Keycloak token exchange: HTTP ${exchanged.status} ${String(exchanged.body.error ?? '')}`,
      )
    const accessToken = String(exchanged.body.access_token)
    const jwks = (await (
      await fetch(`${issuer}/protocol/openid-connect/certs`)
    ).json()) as JSONWebKeySet
    const { payload, protectedHeader } = await jwtVerify(accessToken, createLocalJWKSet(jwks), {
      issuer,
      audience: 'app-b',
      subject: demoUserId,
    })
    if (payload.azp !== 'app-a')
      throw new Error(`Keycloak exchanged token: azp ${String(payload.azp)}`)
    if (payload.act !== undefined) throw new Error('Keycloak exchanged token: unexpected act')
    if (!/\btodos:read\b/.test(String(payload.scope)))
      throw new Error(`Keycloak exchanged token: scope ${String(payload.scope)}`)
    const verification: KeycloakVerification = {
      issuer,
      signatureVerified: true,
      alg: protectedHeader.alg,
      typ: decodeProtectedHeader(accessToken).typ,
      aud: [payload.aud ?? []].flat(),
      sub: String(payload.sub),
      demoUserId,
      azp: String(payload.azp),
      act: null,
      scope: String(payload.scope),
    }
    return {
      url,
      realm,
      version,
      tokenPath,
      process: jvm,
      verification,
      async requests() {
        return (await subjectTokens()).map((token) => ({
          method: 'POST',
          path: tokenPath,
          headers: { authorization, 'content-type': FORM },
          body: new URLSearchParams(form(token)).toString(),
        }))
      },
      async checkAll() {
        const tokens = await subjectTokens()
        let next = 0
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            while (next < tokens.length) {
              const answer = await postForm(tokenEndpoint, authorization, form(tokens[next++]!))
              if (answer.status !== 200)
                throw new Error(`Keycloak token exchange: HTTP ${answer.status}`)
            }
          }),
        )
      },
      tokenCount: () => pool.tokens.length,
      close,
    }
  } catch (err) {
    await close().catch(() => {})
    throw err
  }
}
