/**
 * The live Keycloak tests' fixture: a real Keycloak at KEYCLOAK_URL (`onbehalf keycloak up`; CI
 * starts one), and per test file a FRESH realm imported from deploy/keycloak/realm-onbehalf.json
 * under its own name, so the Node 20 and Node 22 runs and parallel files never see each other's
 * changes. The realm file is imported as it is, except its name and, when a test runs the apps on
 * port 0, the apps' URLs (redirect URIs, web origins).
 *
 * Without KEYCLOAK_URL the live tests are skipped with the reason, unless ONBEHALF_REQUIRE_KEYCLOAK
 * is set (CI sets it): then they fail, so a CI run can never quietly skip them.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connectKeycloakAdmin, type KeycloakAdmin } from '../../src/keycloak/admin_client.js'
import { packageFile } from '../../src/config/package_files.js'
import type { Stack } from './stack.js'

export const KEYCLOAK_URL = process.env.KEYCLOAK_URL?.replace(/\/+$/, '')
const REQUIRED = Boolean(process.env.ONBEHALF_REQUIRE_KEYCLOAK)

/** `skip` option for a live test: false when Keycloak is there (or required). */
export const skipWithoutKeycloak: false | string =
  KEYCLOAK_URL || REQUIRED
    ? false
    : 'KEYCLOAK_URL is not set (start one: onbehalf keycloak up, then KEYCLOAK_URL=http://127.0.0.1:8080)'

export function keycloakUrl(): string {
  if (!KEYCLOAK_URL)
    throw new Error(
      'ONBEHALF_REQUIRE_KEYCLOAK is set but KEYCLOAK_URL is not: CI must start Keycloak',
    )
  return KEYCLOAK_URL
}

export const adminCredentials = () => ({
  username: process.env.KC_BOOTSTRAP_ADMIN_USERNAME ?? 'admin',
  password: process.env.KC_BOOTSTRAP_ADMIN_PASSWORD ?? 'admin',
})

export interface FreshRealm {
  readonly realm: string
  readonly issuer: string
  readonly admin: KeycloakAdmin
  /** The realm's path under the Admin REST API. */
  readonly base: string
  /** A client's representation (GET /clients?clientId=). */
  client(clientId: string): Promise<Record<string, any>>
  /** GET, change, PUT a client: breaking a setting on purpose. */
  updateClient(clientId: string, change: (client: Record<string, any>) => void): Promise<void>
  userId(username: string): Promise<string>
  remove(): Promise<void>
}

type RealmFile = Record<string, any>

function rewriteApp(client: RealmFile, url: string): void {
  const origin = new URL(url).origin
  client.rootUrl = origin
  client.baseUrl = `${origin}/`
  client.redirectUris = [`${origin}/auth/callback`]
  client.webOrigins = [origin]
  client.attributes['post.logout.redirect.uris'] = `${origin}/`
}

/** Imports the project's realm file as a new realm (POST /admin/realms) and returns helpers. */
export async function createFreshRealm(
  options: { appAUrl?: string; appBUrl?: string; prefix?: string } = {},
): Promise<FreshRealm> {
  const admin = await connectKeycloakAdmin({ baseUrl: keycloakUrl(), ...adminCredentials() })
  const realm = `${options.prefix ?? 'onbehalf-test'}-${randomBytes(4).toString('hex')}`
  const representation = JSON.parse(
    readFileSync(packageFile('deploy/keycloak/realm-onbehalf.json'), 'utf8'),
  ) as RealmFile
  const original = representation.realm as string
  representation.realm = realm
  representation.displayName = realm
  for (const user of representation.users ?? [])
    user.realmRoles = (user.realmRoles ?? []).map((role: string) =>
      role === `default-roles-${original}` ? `default-roles-${realm}` : role,
    )
  for (const client of representation.clients) {
    if (client.clientId === 'app-a' && options.appAUrl) rewriteApp(client, options.appAUrl)
    if (client.clientId === 'app-b' && options.appBUrl) rewriteApp(client, options.appBUrl)
  }
  const created = await admin.send('POST', '/admin/realms', representation)
  if (created.status !== 201)
    throw new Error(`import of realm ${realm}: ${created.status} ${JSON.stringify(created.body)}`)
  const base = `/admin/realms/${realm}`
  const client = async (clientId: string) => {
    const found = (await admin.send('GET', `${base}/clients?clientId=${clientId}`)).body as any[]
    if (!found[0]) throw new Error(`no client ${clientId} in ${realm}`)
    return found[0] as Record<string, any>
  }
  return {
    realm,
    issuer: `${keycloakUrl()}/realms/${realm}`,
    admin,
    base,
    client,
    async updateClient(clientId, change) {
      const representation = await client(clientId)
      change(representation)
      const answer = await admin.send('PUT', `${base}/clients/${representation.id}`, representation)
      if (answer.status !== 204) throw new Error(`PUT ${clientId}: ${answer.status}`)
    },
    async userId(username) {
      const users = (await admin.send('GET', `${base}/users?username=${username}&exact=true`))
        .body as any[]
      if (!users[0]) throw new Error(`no user ${username} in ${realm}`)
      return users[0].id as string
    },
    async remove() {
      await admin.send('DELETE', base)
    },
  }
}

/**
 * The whole onbehalf system (App A, App B, App C, the STS; test/helpers/stack.ts) with IDP=keycloak
 * on a fresh, set-up realm: the apps sign in at Keycloak and exchange there. The apps' redirect
 * URIs are pointed at their port-0 URLs once those exist.
 */
export async function startKeycloakStack(prefix: string): Promise<{
  realm: FreshRealm
  stack: Stack
}> {
  const { startStack } = await import('./stack.js')
  const { runSetupCommand } = await import('../../src/cli/setup_keycloak.js')
  const realm = await createFreshRealm({ prefix })
  const lines: string[] = []
  const { username, password } = adminCredentials()
  const code = await runSetupCommand(
    [
      'keycloak',
      '--url',
      keycloakUrl(),
      '--realm',
      realm.realm,
      '--admin-user',
      username,
      '--admin-password',
      password,
    ],
    { out: (l) => lines.push(l), err: (l) => lines.push(l), env: {} },
  )
  if (code !== 0) throw new Error(`setup keycloak: ${lines.join('\n')}`)
  const stack = await startStack({
    apps: true,
    // IDP_ISSUER too: the stack sets it to the embedded IdP's URL, and an explicit IDP_ISSUER wins
    // over KEYCLOAK_URL + KEYCLOAK_REALM in the keycloak profile.
    env: {
      IDP: 'keycloak',
      KEYCLOAK_URL: keycloakUrl(),
      KEYCLOAK_REALM: realm.realm,
      IDP_ISSUER: realm.issuer,
    },
  })
  for (const [clientId, url] of [
    ['app-a', stack.env.APP_A_URL],
    ['app-b', stack.env.APP_B_URL],
  ] as const)
    await realm.updateClient(clientId, (client) => rewriteApp(client, url))
  return { realm, stack }
}
