/**
 * `onbehalf setup keycloak` without a server: the planner's requests are checked against the
 * documented Admin REST API shapes (path, method, representation fields), for a fresh realm
 * (creates), a configured one (no writes) and partly configured ones (only the missing writes);
 * then the whole command runs twice against an in-memory fake of the Admin API.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  KeycloakSetupError,
  clientIdClaimMapper,
  planKeycloakSetup,
  runSetupCommand,
  type AdminRequest,
  type ClientRepresentation,
  type ClientScopeRepresentation,
  type KeycloakRealmState,
} from '../../src/cli/setup_keycloak.js'

const ID = '[0-9a-f-]{36}|\\{\\{[^}]+\\}\\}'
/** Keycloak Admin REST API (26.x): the endpoints setup may call, and the representation each takes. */
const DOCUMENTED: Array<{
  method: string
  path: RegExp
  body?: 'ClientScopeRepresentation' | 'ProtocolMapperRepresentation' | 'ClientRepresentation'
}> = [
  {
    method: 'POST',
    path: /^\/admin\/realms\/[^/]+\/client-scopes$/,
    body: 'ClientScopeRepresentation',
  },
  {
    method: 'PUT',
    path: new RegExp(`^/admin/realms/[^/]+/client-scopes/(${ID})$`),
    body: 'ClientScopeRepresentation',
  },
  {
    method: 'POST',
    path: new RegExp(`^/admin/realms/[^/]+/client-scopes/(${ID})/protocol-mappers/models$`),
    body: 'ProtocolMapperRepresentation',
  },
  {
    method: 'PUT',
    path: new RegExp(`^/admin/realms/[^/]+/client-scopes/(${ID})/protocol-mappers/models/(${ID})$`),
    body: 'ProtocolMapperRepresentation',
  },
  {
    method: 'PUT',
    path: new RegExp(
      `^/admin/realms/[^/]+/clients/(${ID})/(default|optional)-client-scopes/(${ID})$`,
    ),
  },
  {
    method: 'PUT',
    path: new RegExp(`^/admin/realms/[^/]+/clients/(${ID})$`),
    body: 'ClientRepresentation',
  },
]
const FIELDS = {
  ClientScopeRepresentation: [
    'id',
    'name',
    'description',
    'protocol',
    'attributes',
    'protocolMappers',
  ],
  ProtocolMapperRepresentation: [
    'id',
    'name',
    'protocol',
    'protocolMapper',
    'consentRequired',
    'config',
  ],
  ClientRepresentation: [
    'id',
    'clientId',
    'name',
    'description',
    'rootUrl',
    'adminUrl',
    'baseUrl',
    'surrogateAuthRequired',
    'enabled',
    'alwaysDisplayInConsole',
    'clientAuthenticatorType',
    'secret',
    'registrationAccessToken',
    'redirectUris',
    'webOrigins',
    'notBefore',
    'bearerOnly',
    'consentRequired',
    'standardFlowEnabled',
    'implicitFlowEnabled',
    'directAccessGrantsEnabled',
    'serviceAccountsEnabled',
    'publicClient',
    'frontchannelLogout',
    'protocol',
    'attributes',
    'authenticationFlowBindingOverrides',
    'fullScopeAllowed',
    'nodeReRegistrationTimeout',
    'protocolMappers',
    'defaultClientScopes',
    'optionalClientScopes',
    'access',
  ],
} as const

function assertDocumented(step: AdminRequest): void {
  const shape = DOCUMENTED.find((s) => s.method === step.method && s.path.test(step.path))
  assert.ok(shape, `${step.method} ${step.path} is a documented Admin REST API endpoint`)
  if (!shape.body) {
    assert.equal(step.body, undefined, `${step.method} ${step.path} takes no body`)
    return
  }
  assert.equal(typeof step.body, 'object')
  const body = step.body as Record<string, unknown>
  for (const field of Object.keys(body))
    assert.ok(
      (FIELDS[shape.body] as readonly string[]).includes(field),
      `${shape.body} has no field ${field}`,
    )
  for (const map of [body.attributes, body.config]) {
    if (map !== undefined)
      for (const value of Object.values(map as object))
        assert.equal(typeof value, 'string', 'attribute/config values are strings')
  }
  if (shape.body === 'ClientScopeRepresentation') assert.equal(body.protocol, 'openid-connect')
  if (shape.body === 'ProtocolMapperRepresentation') {
    assert.equal(body.protocol, 'openid-connect')
    assert.equal(body.protocolMapper, 'oidc-audience-mapper')
  }
}

const APP_A = '11111111-1111-1111-1111-111111111111'
const APP_B = '22222222-2222-2222-2222-222222222222'
const AUD_SCOPE = '33333333-3333-3333-3333-333333333333'
const TODOS_SCOPE = '44444444-4444-4444-4444-444444444444'
const MAPPER = '55555555-5555-5555-5555-555555555555'
const BASIC = '66666666-6666-6666-6666-666666666666'

const appA = (
  attributes: Record<string, string> = {},
  protocolMappers: ClientRepresentation['protocolMappers'] = [],
): ClientRepresentation => ({
  id: APP_A,
  clientId: 'app-a',
  enabled: true,
  publicClient: false,
  redirectUris: ['http://localhost:3993/auth/callback'],
  attributes: { 'pkce.code.challenge.method': 'S256', ...attributes },
  protocolMappers,
})
/** What Keycloak 26.7.3 needs on app-a for App B to accept its tokens (RFC 9068 typ, client_id). */
const CLIENT_ID_MAPPER = {
  id: '77777777-7777-7777-7777-777777777777',
  ...clientIdClaimMapper('app-a'),
}
const RFC9068 = { 'access.token.header.type.rfc9068': 'true' }
const appAWithShapes = (attributes: Record<string, string>) =>
  appA({ ...RFC9068, ...attributes }, [CLIENT_ID_MAPPER])
const appB: ClientRepresentation = {
  id: APP_B,
  clientId: 'app-b',
  enabled: true,
  publicClient: false,
  attributes: {},
}
const scopeAttributes = { 'include.in.token.scope': 'true', 'display.on.consent.screen': 'false' }
const audienceMapper = {
  id: MAPPER,
  name: 'app-b audience',
  protocol: 'openid-connect',
  protocolMapper: 'oidc-audience-mapper',
  consentRequired: false,
  config: {
    'included.client.audience': 'app-b',
    'id.token.claim': 'false',
    'access.token.claim': 'true',
    'introspection.token.claim': 'true',
  },
}
const builtIn: ClientScopeRepresentation = {
  id: BASIC,
  name: 'basic',
  protocol: 'openid-connect',
  attributes: {},
}

const fresh: KeycloakRealmState = {
  requester: appA(),
  audience: appB,
  clientScopes: [builtIn],
  requesterDefaultScopes: [{ id: BASIC, name: 'basic' }],
  requesterOptionalScopes: [],
}
const configured: KeycloakRealmState = {
  requester: appAWithShapes({ 'standard.token.exchange.enabled': 'true' }),
  audience: appB,
  clientScopes: [
    builtIn,
    {
      id: AUD_SCOPE,
      name: 'app-b-audience',
      protocol: 'openid-connect',
      attributes: scopeAttributes,
      protocolMappers: [audienceMapper],
    },
    {
      id: TODOS_SCOPE,
      name: 'todos:read',
      protocol: 'openid-connect',
      attributes: scopeAttributes,
    },
  ],
  requesterDefaultScopes: [{ id: BASIC, name: 'basic' }],
  requesterOptionalScopes: [
    { id: AUD_SCOPE, name: 'app-b-audience' },
    { id: TODOS_SCOPE, name: 'todos:read' },
  ],
}
const summary = (plan: AdminRequest[]) => plan.map((step) => `${step.method} ${step.path}`)

describe('setup keycloak: the planner', () => {
  it('fresh realm: creates both scopes and the mapper, assigns them to app-a, switches exchange on', () => {
    const plan = planKeycloakSetup(fresh)
    plan.forEach(assertDocumented)
    assert.deepEqual(summary(plan), [
      'POST /admin/realms/onbehalf/client-scopes',
      'POST /admin/realms/onbehalf/client-scopes/{{client-scope:app-b-audience}}/protocol-mappers/models',
      `PUT /admin/realms/onbehalf/clients/${APP_A}/optional-client-scopes/{{client-scope:app-b-audience}}`,
      'POST /admin/realms/onbehalf/client-scopes',
      `PUT /admin/realms/onbehalf/clients/${APP_A}/optional-client-scopes/{{client-scope:todos:read}}`,
      `PUT /admin/realms/onbehalf/clients/${APP_A}`,
    ])
    assert.deepEqual(plan[0]!.body, {
      name: 'app-b-audience',
      description: 'Adds app-b to the access token audience (token exchange)',
      protocol: 'openid-connect',
      attributes: scopeAttributes,
    })
    assert.equal(plan[0]!.captureIdAs, 'client-scope:app-b-audience')
    const { id: _id, ...mapper } = audienceMapper
    assert.deepEqual(plan[1]!.body, mapper)
    const client = plan[5]!.body as ClientRepresentation
    assert.equal(client.attributes!['standard.token.exchange.enabled'], 'true')
    assert.equal(
      client.attributes!['pkce.code.challenge.method'],
      'S256',
      'GET, add the attribute, PUT back: nothing else lost',
    )
    assert.deepEqual(client.redirectUris, ['http://localhost:3993/auth/callback'])
  })

  it('already configured: no writes', () => {
    assert.deepEqual(planKeycloakSetup(configured), [])
  })

  it('partly configured (scope without mapper, not assigned): only the mapper and the assignment', () => {
    const state: KeycloakRealmState = {
      ...configured,
      clientScopes: configured.clientScopes.map((s) =>
        s.name === 'app-b-audience' ? { ...s, protocolMappers: [] } : s,
      ),
      requesterOptionalScopes: [{ id: TODOS_SCOPE, name: 'todos:read' }],
    }
    const plan = planKeycloakSetup(state)
    plan.forEach(assertDocumented)
    assert.deepEqual(summary(plan), [
      `POST /admin/realms/onbehalf/client-scopes/${AUD_SCOPE}/protocol-mappers/models`,
      `PUT /admin/realms/onbehalf/clients/${APP_A}/optional-client-scopes/${AUD_SCOPE}`,
    ])
  })

  it('partly configured (only the client switch off): one PUT of the client, other attributes kept', () => {
    const state = {
      ...configured,
      requester: appAWithShapes({
        'standard.token.exchange.enabled': 'false',
        'client.use.lightweight.access.token.enabled': 'true',
      }),
    }
    const plan = planKeycloakSetup(state)
    plan.forEach(assertDocumented)
    assert.deepEqual(summary(plan), [`PUT /admin/realms/onbehalf/clients/${APP_A}`])
    assert.deepEqual((plan[0]!.body as ClientRepresentation).attributes, {
      'pkce.code.challenge.method': 'S256',
      ...RFC9068,
      'standard.token.exchange.enabled': 'true',
      'client.use.lightweight.access.token.enabled': 'false',
    })
    assert.deepEqual(
      (plan[0]!.body as ClientRepresentation).protocolMappers,
      [CLIENT_ID_MAPPER],
      'the mappers already there are sent back unchanged, none added',
    )
  })

  it('Keycloak 26.7.3 token shapes: without the at+jwt attribute and the client_id mapper, one PUT adds both and keeps the rest', () => {
    const otherMapper = { ...audienceMapper, id: '88888888-8888-8888-8888-888888888888' }
    const state = {
      ...configured,
      requester: appA({ 'standard.token.exchange.enabled': 'true' }, [otherMapper]),
    }
    const plan = planKeycloakSetup(state)
    plan.forEach(assertDocumented)
    assert.deepEqual(summary(plan), [`PUT /admin/realms/onbehalf/clients/${APP_A}`])
    const client = plan[0]!.body as ClientRepresentation
    assert.equal(client.attributes!['access.token.header.type.rfc9068'], 'true')
    assert.equal(client.attributes!['pkce.code.challenge.method'], 'S256')
    assert.deepEqual(
      client.protocolMappers!.map((m) => [
        m.protocolMapper,
        m.config['claim.name'],
        m.config['claim.value'],
      ]),
      [
        ['oidc-audience-mapper', undefined, undefined],
        ['oidc-hardcoded-claim-mapper', 'client_id', 'app-a'],
      ],
    )
    assert.doesNotMatch(
      plan[0]!.reason,
      /standard\.token\.exchange/,
      'what is right is not rewritten',
    )
  })

  it('partly configured (mapper points at another audience): the mapper is updated in place', () => {
    const wrong = {
      ...audienceMapper,
      config: {
        ...audienceMapper.config,
        'included.client.audience': 'app-c',
        'access.token.claim': 'false',
      },
    }
    const state: KeycloakRealmState = {
      ...configured,
      clientScopes: configured.clientScopes.map((s) =>
        s.name === 'app-b-audience' ? { ...s, protocolMappers: [wrong] } : s,
      ),
    }
    const plan = planKeycloakSetup(state)
    plan.forEach(assertDocumented)
    assert.deepEqual(summary(plan), [
      `PUT /admin/realms/onbehalf/client-scopes/${AUD_SCOPE}/protocol-mappers/models/${MAPPER}`,
    ])
    assert.deepEqual((plan[0]!.body as typeof audienceMapper).config, audienceMapper.config)
  })

  it('a scope already assigned as a default scope counts as assigned', () => {
    const state = {
      ...configured,
      requesterDefaultScopes: [
        ...configured.requesterDefaultScopes,
        ...configured.requesterOptionalScopes,
      ],
      requesterOptionalScopes: [],
    }
    assert.deepEqual(planKeycloakSetup(state), [])
  })

  it('refuses what a script must not fix: missing clients, a public app-a, a disabled app-b', () => {
    assert.throws(
      () => planKeycloakSetup({ ...fresh, requester: undefined }),
      (e: Error) =>
        e instanceof KeycloakSetupError &&
        /client app-a not found.*import deploy\/keycloak\/realm-onbehalf\.json/.test(e.message),
    )
    assert.throws(
      () => planKeycloakSetup({ ...fresh, audience: undefined }),
      /client app-b not found/,
    )
    assert.throws(
      () => planKeycloakSetup({ ...fresh, requester: { ...appA(), publicClient: true } }),
      /public: token exchange needs a confidential client/,
    )
    assert.throws(
      () => planKeycloakSetup({ ...fresh, audience: { ...appB, enabled: false } }),
      /app-b is disabled/,
    )
  })
})

/** An in-memory Keycloak Admin API: enough of it for setup, and strict about paths and methods. */
function fakeKeycloak() {
  const scopes: Array<ClientScopeRepresentation & { id: string; protocolMappers: any[] }> = [
    { ...builtIn, id: BASIC, protocolMappers: [] },
  ]
  const clients: ClientRepresentation[] = [appA(), structuredClone(appB)]
  const optional = new Set<string>()
  const writes: string[] = []
  let counter = 0
  const newId = () => `aaaaaaaa-aaaa-aaaa-aaaa-${String(++counter).padStart(12, '0')}`
  const json = (status: number, body?: unknown, headers: Record<string, string> = {}) =>
    new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json', ...headers },
    })
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input))
    const method = init?.method ?? 'GET'
    const path = url.pathname
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined
    if (path === '/realms/master/protocol/openid-connect/token') {
      const form = new URLSearchParams(String(init?.body))
      assert.equal(form.get('grant_type'), 'password')
      assert.equal(form.get('client_id'), 'admin-cli')
      return form.get('password') === 'admin'
        ? json(200, { access_token: 'admin-token' })
        : json(401, { error: 'invalid_grant' })
    }
    assert.equal(new Headers(init?.headers).get('authorization'), 'Bearer admin-token')
    if (method !== 'GET') {
      writes.push(`${method} ${path}`)
      assertDocumented({
        method: method as AdminRequest['method'],
        path: decodeURIComponent(path).replace(/todos:read/, 'x'),
        body,
        reason: '',
      })
    }
    const base = '/admin/realms/onbehalf'
    let m: RegExpExecArray | null
    if (method === 'GET' && path === `${base}/clients`)
      return json(
        200,
        clients.filter((c) => c.clientId === url.searchParams.get('clientId')),
      )
    if (method === 'GET' && path === `${base}/client-scopes`) return json(200, scopes)
    if (method === 'POST' && path === `${base}/client-scopes`) {
      const id = newId()
      scopes.push({ ...body, id, protocolMappers: [] })
      return json(201, undefined, { location: `http://keycloak:8080${base}/client-scopes/${id}` })
    }
    if (
      (m = new RegExp(`^${base}/client-scopes/([^/]+)/protocol-mappers/models$`).exec(path)) &&
      method === 'POST'
    ) {
      scopes.find((s) => s.id === m![1])!.protocolMappers.push({ ...body, id: newId() })
      return json(201)
    }
    if (
      (m = new RegExp(
        `^${base}/clients/([^/]+)/(default|optional)-client-scopes(?:/([^/]+))?$`,
      ).exec(path))
    ) {
      if (method === 'GET')
        return json(
          200,
          m[2] === 'optional'
            ? scopes.filter((s) => optional.has(s.id)).map(({ id, name }) => ({ id, name }))
            : [{ id: BASIC, name: 'basic' }],
        )
      optional.add(m[3]!)
      return json(204)
    }
    if ((m = new RegExp(`^${base}/clients/([^/]+)$`).exec(path)) && method === 'PUT') {
      const index = clients.findIndex((c) => c.id === m![1])
      clients[index] = body
      return json(204)
    }
    return json(404, { error: 'not found' })
  }) as typeof fetch
  return { fetch: fetchImpl, writes, clients, scopes }
}

describe('setup keycloak: the command against a fake Admin REST API', () => {
  it('first run sends the creates, the second run sends no writes (idempotent)', async () => {
    const fake = fakeKeycloak()
    const lines: string[] = []
    const io = {
      out: (l: string) => lines.push(l),
      err: (l: string) => lines.push(l),
      env: {},
      fetch: fake.fetch,
    }
    assert.equal(
      await runSetupCommand(['keycloak', '--url', 'http://keycloak:8080'], io),
      0,
      lines.join('\n'),
    )
    assert.equal(fake.writes.length, 6)
    assert.equal(fake.clients[0]!.attributes!['standard.token.exchange.enabled'], 'true')
    assert.deepEqual(
      fake.scopes
        .find((s) => s.name === 'app-b-audience')!
        .protocolMappers.map((m) => m.config['included.client.audience']),
      ['app-b'],
    )
    lines.length = 0
    assert.equal(await runSetupCommand(['keycloak', '--url', 'http://keycloak:8080'], io), 0)
    assert.equal(fake.writes.length, 6, 'no new writes')
    assert.match(lines.join('\n'), /already set up for token exchange; nothing to change/)
  })

  it('--dry-run lists the requests and sends none', async () => {
    const fake = fakeKeycloak()
    const lines: string[] = []
    const code = await runSetupCommand(['keycloak', '--dry-run'], {
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
      env: { KEYCLOAK_URL: 'http://keycloak:8080' },
      fetch: fake.fetch,
    })
    assert.equal(code, 0)
    assert.equal(fake.writes.length, 0)
    assert.equal(lines.length, 6)
    assert.match(
      lines[0]!,
      /^· POST \/admin\/realms\/onbehalf\/client-scopes {2}\(create client scope app-b-audience\)$/,
    )
  })

  it('wrong admin password: exit 1 with a hint naming the options', async () => {
    const lines: string[] = []
    const code = await runSetupCommand(['keycloak', '--admin-password', 'nope'], {
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
      env: {},
      fetch: fakeKeycloak().fetch,
    })
    assert.equal(code, 1)
    assert.match(lines.join('\n'), /admin login .* failed .*--admin-user\/--admin-password/)
  })

  it('an unknown target is a usage error', async () => {
    const lines: string[] = []
    assert.equal(
      await runSetupCommand(['okta'], { out: (l) => lines.push(l), err: (l) => lines.push(l) }),
      2,
    )
    assert.match(lines.join('\n'), /usage: onbehalf setup keycloak/)
  })
})
