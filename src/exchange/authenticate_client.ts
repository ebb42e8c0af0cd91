/**
 * Client authentication for the STS token endpoint (RFC 6749 §2.3.1): `client_secret_basic` and
 * `client_secret_post`, exactly one per request. Public clients (no secret, `none`) are refused:
 * token exchange without client authentication lets anyone holding a leaked token turn it into
 * other tokens (lesson S6). Inside the OP, oidc-provider authenticates clients itself.
 *
 * Secrets are compared as SHA-256 digests with `timingSafeEqual`; an unknown client costs the same
 * work as a wrong secret. Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1).
 * Failures are `invalid_client` 401 with one description; after a Basic attempt the error asks the
 * HTTP edge for `WWW-Authenticate: Basic`.
 *
 * @example
 * ```ts
 * const authenticator = createClientAuthenticator(new Map([['app-a', { clientId: 'app-a', secret }]]))
 * const client = authenticator.authenticate({ authorizationHeader: req.headers.authorization, body: req.body })
 * ```
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { InvalidClient, InvalidRequest } from './errors.js'
import type { AuthenticatedClient } from './types.js'

export interface ClientCredentialRecord {
  readonly clientId: string
  /** SHA-256 of the secret (32 bytes), or the secret itself (hashed once at creation). */
  readonly secretSha256?: Buffer
  readonly secret?: string
}

export interface ClientAuthenticationInput {
  readonly authorizationHeader?: string | undefined
  readonly body?: Readonly<Record<string, string | readonly string[] | undefined>>
}

export interface ClientAuthenticator {
  authenticate(input: ClientAuthenticationInput): AuthenticatedClient
}

const MAX_CREDENTIAL_LENGTH = 1024

export function createClientAuthenticator(
  clients: ReadonlyMap<string, ClientCredentialRecord>,
): ClientAuthenticator {
  const digests = new Map<string, Buffer>()
  for (const [clientId, record] of clients) {
    if (record.clientId !== clientId) {
      throw new TypeError(
        `createClientAuthenticator: entry ${clientId} has clientId ${record.clientId}`,
      )
    }
    if (record.secretSha256 !== undefined) {
      if (record.secretSha256.length !== 32) {
        throw new TypeError(`createClientAuthenticator: ${clientId}.secretSha256 must be 32 bytes`)
      }
      digests.set(clientId, Buffer.from(record.secretSha256))
    } else if (typeof record.secret === 'string' && record.secret !== '') {
      digests.set(clientId, sha256(record.secret))
    }
    // Neither: a public client, never authenticated here.
  }
  const unknownClientDigest = sha256('unknown client: compare against something')

  function authenticate(input: ClientAuthenticationInput): AuthenticatedClient {
    const bodyId = readBodyValue(input.body, 'client_id')
    const bodySecret = readBodyValue(input.body, 'client_secret')
    const header = input.authorizationHeader

    if (header !== undefined && header !== '') {
      if (bodySecret !== undefined) {
        throw new InvalidRequest({
          description: 'client authentication must use only one method',
          detail: 'both Authorization header and client_secret sent',
        })
      }
      const { clientId, secret } = parseBasicCredentials(header)
      if (bodyId !== undefined && bodyId !== clientId) {
        throw new InvalidRequest({
          description: 'client_id does not match the authenticated client',
          detail: 'client_id in body differs from Basic credentials',
        })
      }
      checkSecret(clientId, secret, true)
      return Object.freeze({ clientId, authMethod: 'client_secret_basic' })
    }

    if (bodyId === undefined) {
      throw new InvalidClient({ detail: 'no client authentication' })
    }
    if (bodySecret === undefined) {
      throw new InvalidClient({ detail: 'public client (no secret): confidential clients only' })
    }
    checkSecret(bodyId, bodySecret, false)
    return Object.freeze({ clientId: bodyId, authMethod: 'client_secret_post' })
  }

  function checkSecret(clientId: string, secret: string, basic: boolean): void {
    const expected = digests.get(clientId)
    const matches = timingSafeEqual(sha256(secret), expected ?? unknownClientDigest)
    if (expected === undefined) {
      throw new InvalidClient({
        basicChallenge: basic,
        detail: clients.has(clientId)
          ? 'public client: confidential clients only'
          : 'unknown client',
      })
    }
    if (!matches) throw new InvalidClient({ basicChallenge: basic, detail: 'wrong client secret' })
  }

  return Object.freeze({ authenticate })
}

/** RFC 7617 with RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`. */
function parseBasicCredentials(header: string): { clientId: string; secret: string } {
  const fail = (detail: string) => new InvalidClient({ basicChallenge: true, detail })
  const match = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header)
  if (match === null || header.length > 4 * MAX_CREDENTIAL_LENGTH) {
    throw fail('Authorization header is not Basic credentials')
  }
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) throw fail('Basic credentials without a colon')
  let clientId: string
  let secret: string
  try {
    clientId = formUrlDecode(decoded.slice(0, colon))
    secret = formUrlDecode(decoded.slice(colon + 1))
  } catch {
    throw fail('Basic credentials are not form-urlencoded')
  }
  if (clientId === '' || secret === '') throw fail('Basic credentials with empty id or secret')
  return { clientId, secret }
}

/**
 * Lesson S6: only confidential clients, authenticated by the HTTP edge, reach a grant. Returns the
 * client when its authentication used a secret or a key; `none` (a public client) is refused.
 */
export function checkConfidentialClient(
  client: AuthenticatedClient | undefined,
): AuthenticatedClient {
  const method: string | undefined = client?.authMethod
  if (
    typeof client?.clientId !== 'string' ||
    client.clientId === '' ||
    !method ||
    method === 'none'
  ) {
    throw new InvalidClient({ detail: 'no authenticated confidential client' })
  }
  return client
}

function formUrlDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '))
}

function readBodyValue(
  body: ClientAuthenticationInput['body'],
  name: 'client_id' | 'client_secret',
): string | undefined {
  const raw = body?.[name]
  if (raw === undefined || raw === '') return undefined
  if (typeof raw !== 'string') {
    throw new InvalidRequest({ description: `${name} is duplicated`, detail: `${name} repeated` })
  }
  if (raw.length > MAX_CREDENTIAL_LENGTH) {
    throw new InvalidRequest({ description: `${name} is too long`, detail: `${name} too long` })
  }
  return raw
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}
