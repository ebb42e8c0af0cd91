/**
 * 6. subject token — given (`--subject-token`) or obtained by signing in through the real
 * authorization code + PKCE flow and the IdP's HTML login form (there is no password grant).
 */
import { signInWithLoginForm } from '../../../demo/form_login.js'
import { idpProfile } from '../../../idp_profiles/index.js'
import { decodeClaims, describeClaims } from '../http.js'
import type { CheckResult, DoctorCheck } from '../types.js'

export const subjectTokenCheck: DoctorCheck = {
  id: 'subject-token',
  title: 'subject token',
  reportedWhenSkipped: true,
  async run(context) {
    const { options, metadata } = context
    const base = { id: this.id, title: this.title }
    const profile = idpProfile(options.idp)
    const one = (result: CheckResult) => ({ results: [result] })
    if (options.subjectToken) {
      context.subjectToken = options.subjectToken
      return one({
        ...base,
        status: 'pass',
        required: false,
        detail: `given: ${describeClaims(decodeClaims(options.subjectToken))}`,
      })
    }
    if (!options.username || !options.password) {
      return one({
        ...base,
        status: 'skip',
        required: false,
        detail: 'no --username/--password or --subject-token given',
        fix: 'pass --username demo --password changeme (or --subject-token) to run a test exchange',
      })
    }
    if (!profile.htmlLoginForm) {
      return one({
        ...base,
        status: 'skip',
        required: false,
        detail: `${profile.label} signs in through a JavaScript flow; no headless sign-in`,
        fix: `sign in to App A, copy the user's access token and pass --subject-token`,
      })
    }
    try {
      if (!metadata?.authorization_endpoint || !metadata.token_endpoint)
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
      const claims = decodeClaims(String(tokens.access_token))
      if (claims && typeof claims.sub !== 'string') {
        // Keycloak's lightweight access tokens drop sub, aud and the profile claims; its exchange
        // then answers "Requested audience not available" (seen on 26.7.3).
        return one({
          ...base,
          status: 'fail',
          required: true,
          detail: `signed in as ${options.username}, but the access token has no sub: ${describeClaims(claims)}`,
          fix:
            options.idp === 'keycloak'
              ? `turn lightweight access tokens off on ${options.clientId}: run \`onbehalf setup keycloak\``
              : 'the IdP must put sub (the user) into access tokens',
        })
      }
      context.subjectToken = String(tokens.access_token)
      return one({
        ...base,
        status: 'pass',
        required: true,
        detail: `signed in as ${options.username} (authorization code + PKCE): ${describeClaims(decodeClaims(context.subjectToken))}`,
      })
    } catch (error) {
      return one({
        ...base,
        status: 'fail',
        required: true,
        detail: (error as Error).message,
        fix: `check --username/--password and that ${options.redirectUri} is a registered redirect URI of ${options.clientId} (--redirect-uri)`,
      })
    }
  },
}
