/**
 * What the doctor tells the user to do, per IdP kind. The Keycloak lines are the answers a real
 * Keycloak 26.7.3 gave (docs/keycloak-vs-onbehalf.md), not guesses from its documentation.
 */
import type { IdpKind } from '../../idp_profiles/index.js'
import { TOKEN_EXCHANGE_GRANT, errorText } from './http.js'
import type { DoctorOptions, OAuthAnswer } from './types.js'

export const FIX = {
  reach: (kind: IdpKind, issuer: string) =>
    ({
      embedded: `start the embedded IdP (\`npm start\` or \`onbehalf idp\`) and check IDP_ISSUER (${issuer})`,
      keycloak: `start Keycloak (\`onbehalf keycloak up\`, or Docker: deploy/keycloak/README.md), wait until it is ready, and check KEYCLOAK_URL`,
      authentik: `start authentik (deploy/authentik/README.md), wait until the blueprint is applied, and add "127.0.0.1 authentik" to /etc/hosts`,
      generic: `check the issuer URL (${issuer}) and that the IdP is reachable from here`,
    })[kind],
  notFound: (kind: IdpKind) =>
    ({
      embedded:
        'the embedded issuer has no path: use IDP_ISSUER exactly (e.g. http://localhost:9000)',
      keycloak:
        'Keycloak issuers are <url>/realms/<realm> (e.g. http://127.0.0.1:8080/realms/onbehalf); is the realm imported (KEYCLOAK_REALM)?',
      authentik:
        'authentik issuers are <url>/application/o/<slug>/ (e.g. http://authentik:9000/application/o/app-a/); is the blueprint applied yet?',
      generic: 'use the issuer URL exactly as the IdP publishes it',
    })[kind],
  issuerMismatch: (kind: IdpKind) =>
    ({
      embedded: 'set IDP_ISSUER to the URL the browser and the apps use',
      keycloak:
        'Keycloak in dev mode builds the issuer from the host it is called by: use one KEYCLOAK_URL everywhere (http://127.0.0.1:8080 for `onbehalf keycloak up`; the compose file fixes KC_HOSTNAME=http://keycloak:8080)',
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

/** The advice for a refused test exchange, from the IdP's own error. */
export function exchangeFix(kind: IdpKind, answer: OAuthAnswer, options: DoctorOptions): string {
  const description = String(answer.body.error_description ?? '')
  const error = String(answer.body.error ?? '')
  if (kind === 'keycloak') {
    if (/audience not available/i.test(description)) {
      return `run \`onbehalf setup keycloak\`: ${options.clientId} needs a client scope with an audience mapper for ${options.audience} (audience only narrows, never adds)`
    }
    if (/audience not found/i.test(description))
      return `create the client ${options.audience} in the realm`
    if (/not enabled/i.test(description)) return FIX.exchangeOff(kind, options.clientId)
    if (error === 'invalid_scope')
      return `the client scopes asked for (${description.replace(/^invalid scopes:\s*/i, '') || options.scope}) are not assigned to ${options.clientId}: run \`onbehalf setup keycloak\``
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

/**
 * What App B needs in the exchanged token beyond `aud` (ES256, RFC 9068 §2: `typ: at+jwt`,
 * `client_id`, `sub`, `scope`), each with the fix. Keycloak 26.7.3 issues `typ: JWT` and no `client_id` until
 * `setup keycloak` has run, signs RS256 unless the realm says ES256, and drops `sub` and `scope`
 * with lightweight access tokens.
 */
export function tokenShapeProblems(
  kind: IdpKind,
  header: Record<string, unknown> | undefined,
  claims: Record<string, unknown>,
  options: DoctorOptions,
): { problem: string; fix: string }[] {
  const setup = kind === 'keycloak' ? 'run `onbehalf setup keycloak`' : 'configure the IdP'
  const problems: { problem: string; fix: string }[] = []
  if (header?.alg !== 'ES256')
    problems.push({
      problem: `signed with ${JSON.stringify(header?.alg ?? null)}, App B pins ES256`,
      fix:
        kind === 'keycloak'
          ? 'Realm settings → Tokens → Default signature algorithm ES256 (defaultSignatureAlgorithm in deploy/keycloak/realm-onbehalf.json; Keycloak creates the key itself)'
          : 'sign access tokens with ES256',
    })
  const typ = String(header?.typ ?? '').toLowerCase()
  if (typ !== 'at+jwt' && typ !== 'application/at+jwt')
    problems.push({
      problem: `header typ ${JSON.stringify(header?.typ ?? null)}, App B accepts only at+jwt (RFC 9068 §2.1)`,
      fix: `${setup}${kind === 'keycloak' ? ` (sets access.token.header.type.rfc9068=true on ${options.clientId})` : ' to sign access tokens with typ at+jwt'}`,
    })
  if (typeof claims.sub !== 'string' || typeof claims.scope !== 'string')
    problems.push({
      problem: 'no sub or scope claim',
      fix: `${setup}${kind === 'keycloak' ? ` (turns lightweight access tokens off on ${options.clientId})` : ' to put sub and scope into access tokens'}`,
    })
  if (typeof claims.client_id !== 'string')
    problems.push({
      problem: 'no client_id claim (RFC 9068 §2.2)',
      fix: `${setup}${kind === 'keycloak' ? ` (adds a client_id claim mapper to ${options.clientId})` : ' to put client_id into access tokens'}`,
    })
  return problems
}
