import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildExchangeResponse } from '../../../src/exchange/token_exchange/respond.js'
import { NO_STORE_HEADERS } from '../../../src/exchange/token_response.js'
import { TOKEN_TYPE } from '../../../src/exchange/types.js'
import { asExchangeDecision, NOW } from '../helpers.js'

test('buildExchangeResponse then RFC 8693 body without refresh_token', () => {
  const body = buildExchangeResponse({
    accessToken: 'token',
    decision: asExchangeDecision({
      mode: 'delegation',
      sub: 'alice',
      audience: 'app-b',
      clientId: 'app-a',
      scopes: ['todos:read'],
      act: undefined,
      iat: NOW,
      exp: NOW + 120,
      issuedTokenType: TOKEN_TYPE.JWT,
      subjectJti: 's',
      actorJti: undefined,
    }),
  })
  assert.deepEqual(body, {
    access_token: 'token',
    issued_token_type: TOKEN_TYPE.JWT,
    token_type: 'Bearer',
    expires_in: 120,
    scope: 'todos:read',
  })
  assert.deepEqual(NO_STORE_HEADERS, { 'Cache-Control': 'no-store', Pragma: 'no-cache' })
})
