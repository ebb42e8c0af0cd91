/**
 * The exchanged token from a real Keycloak, over real HTTP: demo signs in at Keycloak's own login
 * form (authorization code + PKCE, App A's client), App A's exchange client trades the token for
 * App B, and the real App B (IDP=keycloak) decides. Then the M2M + header workaround through
 * Keycloak's client_credentials (app-a's service account), and what Keycloak itself refuses, with
 * its real status and error codes. Every answer is also written to
 * test-artifacts/keycloak-answers.json, from which docs/keycloak-vs-onbehalf.md is written.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { appALoginScope } from '../../src/apps/app-a/app.js'
import {
  ACCESS_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT,
  basicAuthorization,
  createTokenExchangeClient,
} from '../../src/client/token_exchange_client.js'
import { DEVELOPMENT_SECRETS } from '../../src/config/env.js'
import { signInWithLoginForm } from '../../src/demo/form_login.js'
import { idpProfile } from '../../src/idp_profiles/index.js'
import { skipWithoutKeycloak, startKeycloakStack, type FreshRealm } from '../helpers/keycloak.js'
import type { Stack } from '../helpers/stack.js'

const APP_A = { id: 'app-a', secret: DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET }
const APP_B = { id: 'app-b', secret: DEVELOPMENT_SECRETS.APP_B_CLIENT_SECRET }
const answers: Record<string, unknown> = {}

describe('live Keycloak: the exchanged token and App B', { skip: skipWithoutKeycloak }, () => {
  let realm: FreshRealm
  let stack: Stack
  let tokenEndpoint: string
  let loginToken: string
  let demoSub: string

  const post = async (
    form: Record<string, string>,
    client: { id: string; secret: string } = APP_A,
  ) => {
    const response = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: basicAuthorization(client.id, client.secret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(form),
    })
    return { status: response.status, body: (await response.json()) as Record<string, any> }
  }
  const record = (name: string, answer: { status: number; body: Record<string, any> }) => {
    const { access_token: token, refresh_token: _r, id_token: _i, ...rest } = answer.body
    answers[name] = {
      status: answer.status,
      ...rest,
      ...(typeof token === 'string'
        ? { header: decodeProtectedHeader(token), claims: decodeJwt(token) }
        : {}),
    }
  }
  const signIn = (scope: string) =>
    signInWithLoginForm({
      authorizationEndpoint: `${realm.issuer}/protocol/openid-connect/auth`,
      tokenEndpoint,
      clientId: APP_A.id,
      clientSecret: APP_A.secret,
      redirectUri: `${stack.env.APP_A_URL}/auth/callback`,
      scope,
      username: 'demo',
      password: 'changeme',
    })
  const appB = (token: string, headers: Record<string, string> = {}) =>
    fetch(`${stack.env.APP_B_URL}/api/todos/count`, {
      headers: { authorization: `Bearer ${token}`, ...headers },
    })

  before(async () => {
    ;({ realm, stack } = await startKeycloakStack('onbehalf-exchange'))
    tokenEndpoint = `${realm.issuer}/protocol/openid-connect/token`
    demoSub = await realm.userId('demo')
    const tokens = await signIn(appALoginScope('keycloak'))
    loginToken = tokens.access_token
    answers.login = {
      scope: tokens.scope,
      refresh_token: typeof tokens.refresh_token === 'string',
      header: decodeProtectedHeader(loginToken),
      claims: decodeJwt(loginToken),
    }
  })
  after(async () => {
    mkdirSync('test-artifacts', { recursive: true })
    writeFileSync(
      'test-artifacts/keycloak-answers.json',
      `${JSON.stringify({ keycloak: process.env.KEYCLOAK_URL, answers }, null, 2)}\n`,
    )
    await stack?.close()
    await realm?.remove()
  })

  it('WhenAppAExchangesDemosTokenThenSubIsDemoAzpIsAppAAudHoldsAppBAndThereIsNoAct', async () => {
    const exchanger = createTokenExchangeClient({
      tokenEndpoint,
      clientId: APP_A.id,
      clientSecret: APP_A.secret,
    })
    const scope = idpProfile('keycloak').exchangeScope('app-b', 'todos:read')
    const result = await exchanger.exchange({ subjectToken: loginToken, audience: 'app-b', scope })
    record(
      'exchange',
      await post({
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: loginToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        audience: 'app-b',
        scope,
      }),
    )
    const claims = decodeJwt(result.accessToken)
    assert.equal(claims.sub, demoSub, 'the user, by Keycloak id')
    assert.equal(claims.azp, 'app-a')
    assert.ok([claims.aud].flat().includes('app-b'), `aud ${JSON.stringify(claims.aud)}`)
    assert.ok(
      ![claims.aud].flat().includes('app-a'),
      'Keycloak narrows aud to app-b: the requester is not in it',
    )
    assert.equal(claims.client_id, 'app-a')
    assert.equal(claims.act, undefined, 'Keycloak names no actor')
    assert.equal(decodeProtectedHeader(result.accessToken).typ, 'at+jwt')
    assert.match(String(claims.scope), /\btodos:read\b/)
    assert.equal(
      decodeJwt(loginToken).sub,
      demoSub,
      "the service-account sub mapper leaves users' sub alone",
    )
  })

  it('WhenAppBGetsTheExchangedTokenThenItServesDemoAndRefusesAppAsOwnLoginToken', async () => {
    const exchanged = await post({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: loginToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: 'app-b',
      scope: 'app-b-audience todos:read',
    })
    const accepted = await appB(exchanged.body.access_token)
    assert.equal(
      accepted.status,
      200,
      `${accepted.headers.get('www-authenticate')} ${await accepted.clone().text()}`,
    )
    const body = (await accepted.json()) as Record<string, unknown>
    assert.equal(body.user, demoSub)
    assert.equal(body.caller, 'app-a')
    assert.equal(body.decidedBy, 'token')

    const refused = await appB(loginToken)
    assert.equal(refused.status, 401, "App A's own token is addressed to app-a")
    assert.match(refused.headers.get('www-authenticate') ?? '', /invalid_token/)
    const refusal = (await refused.json()) as Record<string, unknown>
    assert.equal(refusal.count, undefined, 'no data with a refused token')
    assert.equal(refusal.user, undefined)
  })

  it('WhenAForgedXUserSubRidesBesideTheExchangedTokenThenAppBIgnoresItAndServesDemo', async () => {
    const alice = await realm.userId('alice')
    const exchanged = await post({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: loginToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: 'app-b',
      scope: 'app-b-audience todos:read',
    })
    const response = await appB(exchanged.body.access_token, { 'x-user-sub': alice })
    assert.equal(response.status, 200)
    const body = (await response.json()) as Record<string, unknown>
    assert.equal(body.user, demoSub)
    assert.notEqual(body.user, alice)
    assert.match(String(body.headerIgnored), /the token names its user/)
  })

  it("WhenAppAUsesItsServiceAccountThenSubIsAppAAndAppBTakesTheUserFromTheHeader (the workaround's danger)", async () => {
    const service = await post({
      grant_type: 'client_credentials',
      scope: 'app-b-audience todos:read',
    })
    record('client_credentials', service)
    assert.equal(service.status, 200, JSON.stringify(service.body))
    const claims = decodeJwt(service.body.access_token)
    assert.equal(claims.sub, 'app-a', 'sub = client_id (the realm maps it for the service account)')
    assert.equal(claims.client_id, 'app-a')
    assert.ok([claims.aud].flat().includes('app-b'))
    assert.equal(claims.preferred_username, 'service-account-app-a')
    const alice = await realm.userId('alice')
    const named = await appB(service.body.access_token, { 'x-user-sub': alice })
    assert.equal(named.status, 200)
    const body = (await named.json()) as Record<string, unknown>
    assert.equal(body.decidedBy, 'trusted-header')
    assert.equal(body.user, alice, 'App A named a user who never signed in to it')
    const alone = (await (await appB(service.body.access_token)).json()) as Record<string, unknown>
    assert.equal(alone.user, 'app-a')
  })

  it('WhenTheRequestIsOneKeycloakRefusesThenItAnswers4xxWithItsOwnErrorCodeAndNoToken', async () => {
    const base = {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: loginToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
    }
    const cases: Array<
      [string, Record<string, string>, { id: string; secret: string }, number, string, RegExp]
    > = [
      [
        "requester not enabled (app-b exchanges app-a's token)",
        { ...base, audience: 'app-b' },
        APP_B,
        400,
        'invalid_request',
        /Standard token exchange is not enabled/,
      ],
      [
        'wrong client secret',
        { ...base, audience: 'app-b' },
        { id: 'app-a', secret: 'wrong' },
        401,
        'unauthorized_client',
        /Invalid client/,
      ],
      [
        'unknown audience',
        { ...base, audience: 'no-such-client' },
        APP_A,
        400,
        'invalid_client',
        /Audience not found/,
      ],
      [
        'audience without its scope',
        { ...base, audience: 'app-b' },
        APP_A,
        400,
        'invalid_request',
        /Requested audience not available: app-b/,
      ],
      [
        'not a token',
        { ...base, subject_token: 'not-a-token', audience: 'app-b' },
        APP_A,
        400,
        'invalid_request',
        /Invalid token/,
      ],
      [
        'subject_token_type jwt',
        {
          ...base,
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          audience: 'app-b',
          scope: 'app-b-audience',
        },
        APP_A,
        400,
        'invalid_request',
        /access tokens only/,
      ],
      [
        'requested_token_type refresh_token',
        {
          ...base,
          audience: 'app-b',
          scope: 'app-b-audience',
          requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
        },
        APP_A,
        400,
        'invalid_request',
        /requested_token_type unsupported/,
      ],
      [
        'a scope not assigned to app-a',
        { ...base, audience: 'app-b', scope: 'app-b-audience admin' },
        APP_A,
        400,
        'invalid_scope',
        /Invalid scopes/,
      ],
    ]
    for (const [name, form, client, status, error, description] of cases) {
      const answer = await post(form, client)
      record(`refused: ${name}`, answer)
      assert.equal(answer.status, status, `${name}: ${JSON.stringify(answer.body)}`)
      assert.equal(answer.body.error, error, name)
      assert.match(String(answer.body.error_description), description, name)
      assert.equal(answer.body.access_token, undefined, `${name}: no token`)
    }
  })

  it('WhenAskedForWhatRfc8693AllowsButOnbehalfRefusesThenKeycloakIssuesAndTheDifferenceIsRecorded', async () => {
    // An actor token is accepted and ignored: no act in the result.
    const withActor = await post({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: loginToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      actor_token: loginToken,
      actor_token_type: ACCESS_TOKEN_TYPE,
      audience: 'app-b',
      scope: 'app-b-audience todos:read',
    })
    record('actor_token given', withActor)
    assert.equal(withActor.status, 200)
    assert.equal(decodeJwt(withActor.body.access_token).act, undefined)
    // Up-scoping: a login token without todos:read is exchanged for one with it.
    const narrow = await signIn('openid')
    assert.doesNotMatch(String(decodeJwt(narrow.access_token).scope), /todos:read/)
    const upscoped = await post({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: narrow.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: 'app-b',
      scope: 'app-b-audience todos:read',
    })
    record('scope beyond the subject token', upscoped)
    assert.equal(upscoped.status, 200)
    assert.match(String(decodeJwt(upscoped.body.access_token).scope), /\btodos:read\b/)
    // No audience at all: Keycloak issues a token for the requester itself.
    const noAudience = await post({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: loginToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
    })
    record('no audience', noAudience)
    assert.equal(noAudience.status, 200)
    const audiences = [decodeJwt(noAudience.body.access_token).aud].flat()
    assert.ok(audiences.includes('app-a'), `aud ${JSON.stringify(audiences)}`)
    assert.ok(!audiences.includes('app-b'))
    assert.equal(noAudience.body.refresh_token, undefined, 'no refresh token from an exchange')
  })
})
