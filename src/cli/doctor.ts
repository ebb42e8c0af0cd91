/**
 * `onbehalf doctor`: points at an identity provider (the embedded one, Keycloak, authentik or any
 * issuer) and reports, one line per check, what works for on-behalf-of calls and how to fix what
 * does not. Checks, in order:
 *
 * 1. discovery — OpenID Connect Discovery 1.0 §4; the document's `issuer` equals the one asked for.
 * 2. grant types — is RFC 8693's grant (`urn:ietf:params:oauth:grant-type:token-exchange`)
 *    advertised in `grant_types_supported` (or client_credentials, for authentik's JWT federation)?
 * 3. client auth methods — `token_endpoint_auth_methods_supported` holds `client_secret_basic`.
 * 4. client authentication — a deliberately invalid request (an exchange with a subject token that
 *    is not a token): `invalid_client` means the credentials are wrong; `invalid_request` /
 *    `invalid_grant` mean they were accepted and only the token was refused (RFC 6749 §5.2).
 * 5. exchange enabled — the same answer tells whether the client may use the grant at all.
 * 6. subject token — given (`--subject-token`) or obtained by signing in through the real
 *    authorization code + PKCE flow and the IdP's HTML login form (there is no password grant).
 * 7. test exchange — RFC 8693 §2.1 (or authentik's client_credentials + client_assertion re-issue)
 *    and a look at what came back (`sub`, `aud`, `azp`, `act`; decoded, not verified).
 *
 * Exit code 1 when a required check fails, 2 on usage errors.
 *
 * @example
 * onbehalf doctor --idp keycloak --username demo --password changeme
 * onbehalf doctor --issuer http://localhost:9000 --client-secret … --json
 */
import { parseArgs } from 'node:util'
import { signInWithLoginForm } from '../demo/form_login.js'
import { basicAuthorization } from '../client/token_exchange_client.js'
import { DEVELOPMENT_SECRETS } from '../config/env.js'
import { loadIdpSettings } from '../config/idp_settings.js'
import {
  IDP_KINDS,
  discoveryUrlOf,
  idpProfile,
  type IdpKind,
  type IdpProfile,
  type IdpSettings,
  type Strategy,
} from '../idp_profiles/index.js'

/** The headless sign-in's login-form finder (src/client/form_login.ts), as doctor uses it. */
export { findLoginForm } from '../demo/form_login.js'

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip'

export interface CheckResult {
  readonly id: string
  readonly title: string
  readonly status: CheckStatus
  /** A failing required check makes the exit code non-zero. */
  readonly required: boolean
  readonly detail: string
  /** What to do about a failure or warning. */
  readonly fix?: string
}

export interface DoctorReport {
  readonly ok: boolean
  readonly idp: IdpKind
  readonly issuer: string
  readonly strategies: readonly Strategy[]
  readonly checks: readonly CheckResult[]
}

export interface DoctorOptions {
  readonly idp: IdpKind
  readonly issuer: string
  readonly strategies: readonly Strategy[]
  readonly clientId: string
  readonly clientSecret: string
  readonly audience: string
  /** Scope asked for in the exchange (App B's API scope). */
  readonly scope: string
  readonly redirectUri: string
  readonly username?: string
  readonly password?: string
  readonly subjectToken?: string
  readonly fetch?: typeof fetch
  /** Per-request timeout in milliseconds. */
  readonly timeoutMs?: number
}

interface Metadata {
  issuer?: string
  authorization_endpoint?: string
  token_endpoint?: string
  grant_types_supported?: string[]
  token_endpoint_auth_methods_supported?: string[]
  [key: string]: unknown
}

interface OAuthAnswer {
  status: number
  body: Record<string, unknown>
}

function decodeClaims(token: string): Record<string, unknown> | undefined {
  try {
    const payload = token.split('.')[1]
    return payload
      ? (JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

function describeClaims(claims: Record<string, unknown> | undefined): string {
  if (!claims) return 'opaque token (not a JWT)'
  const show = (value: unknown) => (value === undefined ? '—' : JSON.stringify(value))
  return `sub=${show(claims.sub)} aud=${show(claims.aud)} azp=${show(claims.azp ?? claims.client_id)} act=${show(claims.act)} scope=${show(claims.scope)}`
}

function errorText(answer: OAuthAnswer): string {
  const { error, error_description: description } = answer.body
  return `${answer.status} ${String(error ?? 'no error code')}${description ? ` "${String(description)}"` : ''}`
}

// --- The checks ----------------------------------------------------------------------------------

const FIX = {
  reach: (kind: IdpKind, issuer: string) =>
    ({
      embedded: `start the embedded IdP (\`npm start\` or \`onbehalf idp\`) and check IDP_ISSUER (${issuer})`,
      keycloak: `start Keycloak (deploy/keycloak/README.md), wait for it to be ready, and add "127.0.0.1 keycloak" to /etc/hosts`,
      authentik: `start authentik (deploy/authentik/README.md), wait until the blueprint is applied, and add "127.0.0.1 authentik" to /etc/hosts`,
      generic: `check the issuer URL (${issuer}) and that the IdP is reachable from here`,
    })[kind],
  notFound: (kind: IdpKind) =>
    ({
      embedded:
        'the embedded issuer has no path: use IDP_ISSUER exactly (e.g. http://localhost:9000)',
      keycloak:
        'Keycloak issuers are <url>/realms/<realm> (e.g. http://keycloak:8080/realms/onbehalf); is the realm imported?',
      authentik:
        'authentik issuers are <url>/application/o/<slug>/ (e.g. http://authentik:9000/application/o/app-a/); is the blueprint applied yet?',
      generic: 'use the issuer URL exactly as the IdP publishes it',
    })[kind],
  issuerMismatch: (kind: IdpKind) =>
    ({
      embedded: 'set IDP_ISSUER to the URL the browser and the apps use',
      keycloak:
        'browser and apps must see one issuer: set KC_HOSTNAME (the compose file uses http://keycloak:8080) and use that host name everywhere',
      authentik:
        'authentik builds the issuer from the Host header: use the same host name (http://authentik:9000) in the browser and the apps',
      generic: 'use the issuer exactly as published in discovery',
    })[kind],
  grantMissing: (kind: IdpKind) =>
    ({
      embedded: 'the embedded IdP always registers the grant: are you pointing at another server?',
      keycloak:
        'Keycloak 26.2+ has token-exchange-standard:v2 on by default; remove it from --features-disabled (or add --features=token-exchange-standard:v2)',
      authentik:
        "RFC 8693 needs authentik 2026.8+ with the grant enabled on app-a's provider (deploy/authentik, ONBEHALF_BLUEPRINTS=2026.8); up to 2026.5 use JWT federation",
      generic:
        'this IdP does not advertise RFC 8693 token exchange; enable it, or use another strategy (IDP_STRATEGIES)',
    })[kind],
  badClient: (kind: IdpKind, clientId: string) =>
    `the IdP refused ${clientId}'s credentials: pass the right --client-secret (or APP_A_CLIENT_SECRET) — ` +
    {
      embedded: 'the embedded IdP uses APP_A_CLIENT_SECRET from .env',
      keycloak: `Keycloak: Clients → ${clientId} → Credentials (the realm file uses the development secret); the client must be confidential (Client authentication on)`,
      authentik: `authentik: Providers → ${clientId} → Client secret (the blueprint reads APP_A_CLIENT_SECRET); Client type confidential`,
      generic: 'the secret registered for this client, sent with client_secret_basic',
    }[kind],
  exchangeOff: (kind: IdpKind, clientId: string) =>
    ({
      embedded: `config/policy.json: set clients.${clientId}.tokenExchange.enabled to true`,
      keycloak: `run \`onbehalf setup keycloak\` (sets standard.token.exchange.enabled on ${clientId}), or Admin Console: Clients → ${clientId} → Capability config → Standard token exchange`,
      authentik: `add ${TOKEN_EXCHANGE_GRANT} to the grant types of ${clientId}'s provider (authentik 2026.8+)`,
      generic: `allow ${clientId} to use the token exchange grant at the IdP`,
    })[kind],
}

function exchangeFix(kind: IdpKind, answer: OAuthAnswer, options: DoctorOptions): string {
  const description = String(answer.body.error_description ?? '')
  const error = String(answer.body.error ?? '')
  if (kind === 'keycloak') {
    if (/audience not available/i.test(description)) {
      return `run \`onbehalf setup keycloak\`: ${options.clientId} needs a client scope with an audience mapper for ${options.audience} (audience only narrows, never adds)`
    }
    if (/audience not found/i.test(description))
      return `create the client ${options.audience} in the realm`
    if (error === 'invalid_scope')
      return `assign the requested scopes (${options.scope}) to ${options.clientId}: run \`onbehalf setup keycloak\``
    if (/not within the token audience/i.test(description))
      return `the subject token must have been issued to ${options.clientId} (azp) or name it in aud`
  }
  if (kind === 'authentik' && (error === 'invalid_target' || error === 'invalid_grant')) {
    return `App B's provider must list App A's provider under "Federated OIDC Providers" (jwt_federation_providers), and App A's provider must sign with an asymmetric key`
  }
  if (error === 'invalid_request' || error === 'invalid_grant')
    return 'the subject token was refused: get a fresh one (it may have expired or been revoked)'
  if (error === 'unauthorized_client') return FIX.exchangeOff(kind, options.clientId)
  return `see the IdP's answer (${errorText(answer)}) and its logs`
}

async function postForm(
  options: DoctorOptions,
  endpoint: string,
  form: Record<string, string>,
  auth: boolean,
): Promise<OAuthAnswer> {
  const doFetch = options.fetch ?? fetch
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  }
  if (auth) headers.authorization = basicAuthorization(options.clientId, options.clientSecret)
  const response = await doFetch(endpoint, {
    method: 'POST',
    headers,
    body: new URLSearchParams(form),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  })
  const text = await response.text()
  let body: Record<string, unknown>
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    body = { error: 'invalid_response', error_description: text.slice(0, 120) }
  }
  return { status: response.status, body }
}

function networkMessage(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (error as Error).message
}

/** Runs every check against the IdP and returns the report (prints nothing). */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const checks: CheckResult[] = []
  const kind = options.idp
  const add = (check: CheckResult) => checks.push(check)
  const wantsRfc8693 = options.strategies.includes('rfc8693')
  const wantsFederation = options.strategies.includes('jwt-federation')
  const finish = (): DoctorReport => ({
    ok: !checks.some((check) => check.required && check.status === 'fail'),
    idp: kind,
    issuer: options.issuer,
    strategies: options.strategies,
    checks,
  })
  const skipRest = (reason: string) => {
    for (const [id, title] of [
      ['grant-types', 'grant types advertised'],
      ['auth-methods', 'client authentication methods'],
      ['client-auth', 'client authentication'],
      ['subject-token', 'subject token'],
      ['exchange', 'test exchange'],
    ] as const) {
      if (!checks.some((check) => check.id === id))
        add({ id, title, status: 'skip', required: false, detail: reason })
    }
  }

  // 1. Discovery
  const discoveryUrl = discoveryUrlOf(options.issuer)
  let metadata: Metadata
  try {
    const response = await (options.fetch ?? fetch)(discoveryUrl, {
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    })
    if (!response.ok) {
      add({
        id: 'discovery',
        title: 'discovery',
        status: 'fail',
        required: true,
        detail: `${discoveryUrl} answered ${response.status}`,
        fix: response.status === 404 ? FIX.notFound(kind) : FIX.reach(kind, options.issuer),
      })
      skipRest('needs discovery')
      return finish()
    }
    metadata = (await response.json()) as Metadata
  } catch (error) {
    add({
      id: 'discovery',
      title: 'discovery',
      status: 'fail',
      required: true,
      detail: `${discoveryUrl}: ${networkMessage(error)}`,
      fix: FIX.reach(kind, options.issuer),
    })
    skipRest('needs discovery')
    return finish()
  }
  if (metadata.issuer !== options.issuer || !metadata.token_endpoint) {
    add({
      id: 'discovery',
      title: 'discovery',
      status: 'fail',
      required: true,
      detail: !metadata.token_endpoint
        ? 'no token_endpoint in the discovery document'
        : `discovery says issuer ${JSON.stringify(metadata.issuer)}, expected ${options.issuer} (tokens would fail issuer checks)`,
      fix: FIX.issuerMismatch(kind),
    })
    skipRest('needs a matching issuer')
    return finish()
  }
  add({
    id: 'discovery',
    title: 'discovery',
    status: 'pass',
    required: true,
    detail: `issuer ${metadata.issuer}, token endpoint ${metadata.token_endpoint}`,
  })
  const tokenEndpoint = metadata.token_endpoint

  // 2. Grant types
  const grants = metadata.grant_types_supported ?? ['authorization_code', 'implicit'] // RFC 8414 §2 default
  const advertisesExchange = grants.includes(TOKEN_EXCHANGE_GRANT)
  if (wantsRfc8693) {
    add(
      advertisesExchange
        ? {
            id: 'grant-types',
            title: 'grant types advertised',
            status: 'pass',
            required: true,
            detail: 'token exchange (RFC 8693) is advertised',
          }
        : {
            id: 'grant-types',
            title: 'grant types advertised',
            status: 'fail',
            required: true,
            detail: `token exchange is not in grant_types_supported (${grants.join(', ')})`,
            fix: FIX.grantMissing(kind),
          },
    )
  } else {
    const federation = grants.includes('client_credentials')
    add({
      id: 'grant-types',
      title: 'grant types advertised',
      status: federation || !wantsFederation ? 'pass' : 'warn',
      required: false,
      detail: `token exchange ${advertisesExchange ? 'advertised' : 'not advertised'} (not used: ${options.strategies.join(', ')}); client_credentials ${federation ? 'advertised' : 'not advertised'}`,
      fix:
        federation || !wantsFederation
          ? undefined
          : "JWT federation uses client_credentials: enable it on App B's provider",
    })
  }

  // 3. Client authentication methods (RFC 8414 §2: client_secret_basic when absent)
  const methods = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic']
  add(
    methods.includes('client_secret_basic')
      ? {
          id: 'auth-methods',
          title: 'client authentication methods',
          status: 'pass',
          required: true,
          detail: `client_secret_basic supported (${methods.join(', ')})`,
        }
      : {
          id: 'auth-methods',
          title: 'client authentication methods',
          status: 'fail',
          required: true,
          detail: `client_secret_basic not supported (${methods.join(', ')})`,
          fix: 'onbehalf authenticates with client_secret_basic; allow it for the client at the IdP',
        },
  )

  // 4./5. Client authentication, with a request that must fail for another reason than credentials.
  let probe: OAuthAnswer
  const probeForm: Record<string, string> = wantsRfc8693
    ? {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: 'onbehalf-doctor-not-a-token',
        subject_token_type: ACCESS_TOKEN_TYPE,
        audience: options.audience,
      }
    : { grant_type: 'refresh_token', refresh_token: 'onbehalf-doctor-not-a-token' }
  try {
    probe = await postForm(options, tokenEndpoint, probeForm, true)
  } catch (error) {
    add({
      id: 'client-auth',
      title: 'client authentication',
      status: 'fail',
      required: true,
      detail: `token endpoint: ${networkMessage(error)}`,
      fix: FIX.reach(kind, options.issuer),
    })
    skipRest('needs the token endpoint')
    return finish()
  }
  const probeError = String(probe.body.error ?? '')
  const probeDescription = String(probe.body.error_description ?? '')
  const probeWhat = `probe (${wantsRfc8693 ? 'exchange with an invalid subject token' : 'refresh with an invalid token'}) → ${errorText(probe)}`
  if (probeError === 'invalid_client') {
    add({
      id: 'client-auth',
      title: 'client authentication',
      status: 'fail',
      required: true,
      detail: `${probeWhat}: bad client credentials`,
      fix: /public client/i.test(probeDescription)
        ? `make ${options.clientId} a confidential client (Client authentication on); public clients may not exchange tokens`
        : FIX.badClient(kind, options.clientId),
    })
  } else if (probe.status >= 500 || probe.status === 200 || !probeError) {
    add({
      id: 'client-auth',
      title: 'client authentication',
      status: 'fail',
      required: true,
      detail: `${probeWhat}: unexpected answer`,
      fix: 'the token endpoint should refuse an invalid token with an OAuth error; check the IdP logs',
    })
  } else {
    add({
      id: 'client-auth',
      title: 'client authentication',
      status: 'pass',
      required: true,
      detail: `${probeWhat}: credentials accepted, only the token refused`,
    })
  }
  if (wantsRfc8693 && probeError !== 'invalid_client') {
    const off =
      probeError === 'unauthorized_client' ||
      probeError === 'unsupported_grant_type' ||
      /not enabled/i.test(probeDescription)
    add(
      off
        ? {
            id: 'exchange-enabled',
            title: 'token exchange enabled for the client',
            status: 'fail',
            required: true,
            detail: errorText(probe),
            fix: FIX.exchangeOff(kind, options.clientId),
          }
        : {
            id: 'exchange-enabled',
            title: 'token exchange enabled for the client',
            status: 'pass',
            required: true,
            detail: `${options.clientId} may use the grant`,
          },
    )
  }

  // 6. A subject token
  let subjectToken = options.subjectToken
  const profile: IdpProfile = idpProfile(kind)
  if (subjectToken) {
    add({
      id: 'subject-token',
      title: 'subject token',
      status: 'pass',
      required: false,
      detail: `given: ${describeClaims(decodeClaims(subjectToken))}`,
    })
  } else if (options.username && options.password) {
    if (!profile.htmlLoginForm) {
      add({
        id: 'subject-token',
        title: 'subject token',
        status: 'skip',
        required: false,
        detail: `${profile.label} signs in through a JavaScript flow; no headless sign-in`,
        fix: `sign in to App A, copy the user's access token and pass --subject-token`,
      })
    } else {
      try {
        if (!metadata.authorization_endpoint || !metadata.token_endpoint)
          throw new Error('discovery has no authorization or token endpoint')
        const tokens = await signInWithLoginForm({
          authorizationEndpoint: metadata.authorization_endpoint,
          tokenEndpoint: metadata.token_endpoint,
          clientId: options.clientId,
          clientSecret: options.clientSecret,
          redirectUri: options.redirectUri,
          scope: profile.loginScope,
          username: options.username,
          password: options.password,
          fetch: options.fetch,
          timeoutMs: options.timeoutMs,
        })
        subjectToken = String(tokens.access_token)
        add({
          id: 'subject-token',
          title: 'subject token',
          status: 'pass',
          required: true,
          detail: `signed in as ${options.username} (authorization code + PKCE): ${describeClaims(decodeClaims(subjectToken))}`,
        })
      } catch (error) {
        add({
          id: 'subject-token',
          title: 'subject token',
          status: 'fail',
          required: true,
          detail: (error as Error).message,
          fix: `check --username/--password and that ${options.redirectUri} is a registered redirect URI of ${options.clientId} (--redirect-uri)`,
        })
      }
    }
  } else {
    add({
      id: 'subject-token',
      title: 'subject token',
      status: 'skip',
      required: false,
      detail: 'no --username/--password or --subject-token given',
      fix: 'pass --username demo --password changeme (or --subject-token) to run a test exchange',
    })
  }

  // 7. The test exchange
  if (!subjectToken) {
    add({
      id: 'exchange',
      title: 'test exchange',
      status: 'skip',
      required: false,
      detail: 'needs a subject token',
    })
    return finish()
  }
  const form: Record<string, string> = wantsRfc8693
    ? {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: subjectToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        audience: options.audience,
        requested_token_type: ACCESS_TOKEN_TYPE,
        ...(profile.exchangeScope(options.audience, options.scope)
          ? { scope: profile.exchangeScope(options.audience, options.scope) }
          : {}),
      }
    : {
        // authentik "JWT authentication": App B's client_id with the user's App A token as assertion.
        grant_type: 'client_credentials',
        client_id: options.audience,
        client_assertion_type: JWT_BEARER_ASSERTION,
        client_assertion: subjectToken,
        scope: ['openid profile email', options.scope].filter(Boolean).join(' '),
      }
  const how = wantsRfc8693 ? 'RFC 8693' : 'JWT federation (client_credentials + client_assertion)'
  let answer: OAuthAnswer
  try {
    answer = await postForm(options, tokenEndpoint, form, wantsRfc8693)
  } catch (error) {
    add({
      id: 'exchange',
      title: 'test exchange',
      status: 'fail',
      required: true,
      detail: `${how}: ${networkMessage(error)}`,
      fix: FIX.reach(kind, options.issuer),
    })
    return finish()
  }
  if (answer.status !== 200 || typeof answer.body.access_token !== 'string') {
    add({
      id: 'exchange',
      title: 'test exchange',
      status: 'fail',
      required: true,
      detail: `${how} → ${errorText(answer)}`,
      fix: exchangeFix(kind, answer, options),
    })
    return finish()
  }
  const claims = decodeClaims(answer.body.access_token)
  const audiences = claims ? [claims.aud].flat() : []
  const subject = decodeClaims(subjectToken)
  if (claims && !audiences.includes(options.audience)) {
    add({
      id: 'exchange',
      title: 'test exchange',
      status: 'fail',
      required: true,
      detail: `${how} succeeded but aud is ${JSON.stringify(claims.aud)}, not ${options.audience}`,
      fix:
        kind === 'keycloak'
          ? 'run `onbehalf setup keycloak` (audience mapper for app-b)'
          : `make the IdP address the new token to ${options.audience}`,
    })
    return finish()
  }
  const sameUser =
    claims && subject
      ? claims.sub === subject.sub
        ? 'same sub as the subject token'
        : 'a different sub than the subject token (see what the IdP issued)'
      : ''
  add({
    id: 'exchange',
    title: 'test exchange',
    status: 'pass',
    required: true,
    detail: `${how} → ${String(answer.body.issued_token_type ?? answer.body.token_type ?? 'token')}: ${describeClaims(claims)}${sameUser ? `; ${sameUser}` : ''}`,
  })
  return finish()
}

// --- Output ----------------------------------------------------------------------------------------

const MARK: Record<CheckStatus, string> = { pass: '✔', fail: '✘', warn: '!', skip: '○' }

/** One line per check, a `fix:` line under each failure or warning. */
export function formatReport(report: DoctorReport): string {
  const lines = [
    `onbehalf doctor — ${idpProfile(report.idp).label} at ${report.issuer} (strategies: ${report.strategies.join(', ')})`,
  ]
  for (const check of report.checks) {
    lines.push(`${MARK[check.status]} ${check.title}: ${check.detail}`)
    if (
      check.fix &&
      (check.status === 'fail' || check.status === 'warn' || check.status === 'skip')
    )
      lines.push(`    fix: ${check.fix}`)
  }
  lines.push(report.ok ? 'all required checks passed' : 'some required checks failed')
  return lines.join('\n')
}

const USAGE = `usage: onbehalf doctor [--idp embedded|keycloak|authentik|generic] [--issuer URL]
                      [--client-id ID --client-secret SECRET] [--audience app-b] [--scope todos:read]
                      [--username NAME --password PW | --subject-token TOKEN] [--redirect-uri URL]
                      [--authentik-version 2026.5] [--json]

Defaults come from the environment (IDP, IDP_ISSUER, KEYCLOAK_URL, KEYCLOAK_REALM, AUTHENTIK_URL,
AUTHENTIK_VERSION, APP_A_CLIENT_SECRET, APP_A_URL). With --issuer and no --idp the IdP is "generic".`

export interface DoctorIo {
  out: (text: string) => void
  err: (text: string) => void
  env?: NodeJS.ProcessEnv
  fetch?: typeof fetch
}

const defaultIo: DoctorIo = { out: (text) => console.log(text), err: (text) => console.error(text) }

/** Parses the command line into `DoctorOptions` (environment for what is not given). */
export function doctorOptionsFrom(
  argv: string[],
  env: NodeJS.ProcessEnv,
): DoctorOptions & { json: boolean; help: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      idp: { type: 'string' },
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      audience: { type: 'string' },
      scope: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      'subject-token': { type: 'string' },
      'redirect-uri': { type: 'string' },
      'authentik-version': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const idp = values.idp ?? (values.issuer ? 'generic' : (env.IDP ?? 'embedded'))
  if (!(IDP_KINDS as readonly string[]).includes(idp))
    throw new TypeError(`--idp must be one of ${IDP_KINDS.join(', ')}`)
  const settings: IdpSettings = loadIdpSettings({
    ...env,
    IDP: idp,
    IDP_ISSUER: values.issuer ?? env.IDP_ISSUER,
    AUTHENTIK_VERSION: values['authentik-version'] ?? env.AUTHENTIK_VERSION,
  })
  const clientId = values['client-id'] ?? env.APP_A_CLIENT_ID ?? 'app-a'
  const appAUrl = (env.APP_A_URL ?? 'http://localhost:3993').replace(/\/+$/, '')
  const issuer = values.issuer ?? idpProfile(settings.kind).issuerFor(settings, clientId)
  return {
    idp: settings.kind,
    issuer: settings.kind === 'authentik' ? issuer : issuer.replace(/\/+$/, ''),
    strategies: settings.strategies,
    clientId,
    clientSecret:
      values['client-secret'] ??
      env.APP_A_CLIENT_SECRET ??
      (clientId === 'app-a' ? DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET : ''),
    audience: values.audience ?? env.APP_B_CLIENT_ID ?? 'app-b',
    scope: values.scope ?? 'todos:read',
    redirectUri: values['redirect-uri'] ?? `${appAUrl}/auth/callback`,
    username: values.username,
    password: values.password,
    subjectToken: values['subject-token'],
    json: values.json === true,
    help: values.help === true,
  }
}

/** `onbehalf doctor …`; returns the exit code. */
export async function runDoctorCommand(argv: string[], io: DoctorIo = defaultIo): Promise<number> {
  let options: ReturnType<typeof doctorOptionsFrom>
  try {
    options = doctorOptionsFrom(argv, io.env ?? process.env)
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (options.help) {
    io.out(USAGE)
    return 0
  }
  const report = await runDoctor({ ...options, fetch: io.fetch })
  io.out(options.json ? JSON.stringify(report, null, 2) : formatReport(report))
  return report.ok ? 0 : 1
}
