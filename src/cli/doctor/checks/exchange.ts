/**
 * 7. test exchange — RFC 8693 §2.1 (or authentik's client_credentials + client_assertion re-issue)
 * and a look at what came back (`sub`, `aud`, `azp`, `act`; decoded, not verified), including the
 * shape App B insists on (RFC 9068: `typ: at+jwt`, `client_id`, `sub`, `scope`).
 */
import { idpProfile } from '../../../idp_profiles/index.js'
import { FIX, exchangeFix, tokenShapeProblems } from '../fixes.js'
import {
  ACCESS_TOKEN_TYPE,
  JWT_BEARER_ASSERTION,
  TOKEN_EXCHANGE_GRANT,
  decodeClaims,
  decodeHeader,
  describeClaims,
  errorText,
  networkMessage,
  postForm,
} from '../http.js'
import type { CheckResult, DoctorCheck, DoctorContext, OAuthAnswer } from '../types.js'

function exchangeForm(context: DoctorContext, subjectToken: string): Record<string, string> {
  const { options } = context
  if (!context.wantsRfc8693) {
    // authentik "JWT authentication": App B's client_id with the user's App A token as assertion.
    return {
      grant_type: 'client_credentials',
      client_id: options.audience,
      client_assertion_type: JWT_BEARER_ASSERTION,
      client_assertion: subjectToken,
      scope: ['openid profile email', options.scope].filter(Boolean).join(' '),
    }
  }
  const scope = idpProfile(options.idp).exchangeScope(options.audience, options.scope)
  return {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    audience: options.audience,
    requested_token_type: ACCESS_TOKEN_TYPE,
    ...(scope ? { scope } : {}),
  }
}

export const exchangeCheck: DoctorCheck = {
  id: 'exchange',
  title: 'test exchange',
  reportedWhenSkipped: true,
  async run(context) {
    const { options, subjectToken, wantsRfc8693 } = context
    const kind = options.idp
    const base = { id: this.id, title: this.title }
    const one = (result: CheckResult) => ({ results: [result] })
    if (!subjectToken) {
      return one({ ...base, status: 'skip', required: false, detail: 'needs a subject token' })
    }
    const how = wantsRfc8693 ? 'RFC 8693' : 'JWT federation (client_credentials + client_assertion)'
    const fail = (detail: string, fix: string) =>
      one({ ...base, status: 'fail', required: true, detail, fix })
    let answer: OAuthAnswer
    try {
      answer = await postForm(
        options,
        context.tokenEndpoint!,
        exchangeForm(context, subjectToken),
        wantsRfc8693,
      )
    } catch (error) {
      return fail(`${how}: ${networkMessage(error)}`, FIX.reach(kind, options.issuer))
    }
    if (answer.status !== 200 || typeof answer.body.access_token !== 'string') {
      return fail(`${how} → ${errorText(answer)}`, exchangeFix(kind, answer, options))
    }
    const claims = decodeClaims(answer.body.access_token)
    const audiences = claims ? [claims.aud].flat() : []
    if (claims && !audiences.includes(options.audience)) {
      return fail(
        `${how} succeeded but aud is ${JSON.stringify(claims.aud)}, not ${options.audience}`,
        kind === 'keycloak'
          ? 'run `onbehalf setup keycloak` (audience mapper for app-b)'
          : `make the IdP address the new token to ${options.audience}`,
      )
    }
    const problems = claims
      ? tokenShapeProblems(kind, decodeHeader(answer.body.access_token), claims, options)
      : []
    if (problems.length > 0) {
      return fail(
        `${how} succeeded but App B would refuse the token: ${problems.map((p) => p.problem).join('; ')}`,
        [...new Set(problems.map((p) => p.fix))].join('; '),
      )
    }
    const subject = decodeClaims(subjectToken)
    const sameUser =
      claims && subject
        ? claims.sub === subject.sub
          ? 'same sub as the subject token'
          : 'a different sub than the subject token (see what the IdP issued)'
        : ''
    return one({
      ...base,
      status: 'pass',
      required: true,
      detail: `${how} → ${String(answer.body.issued_token_type ?? answer.body.token_type ?? 'token')}: ${describeClaims(claims)}${sameUser ? `; ${sameUser}` : ''}`,
    })
  },
}
