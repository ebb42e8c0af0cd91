/**
 * One error vocabulary across src/: every error class names a stable `ERR_…` `code` (on the class
 * and the instance, as jose's errors do), HTTP statuses are `statusCode`, protocol codes `error`.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ActivityValidationError } from '../../src/apps/app-c/activity_store.js'
import { TodoValidationError } from '../../src/apps/app-b/todo_store.js'
import { LoginError } from '../../src/attack/login.js'
import { KeycloakSetupError } from '../../src/cli/setup_keycloak.js'
import { KeycloakLauncherError } from '../../src/keycloak/launcher/index.js'
import { TokenExchangeError } from '../../src/client/token_exchange_client.js'
import { ResourceDiscoveryError } from '../../src/client/discover_resource.js'
import { DpopProofError } from '../../src/jwt/dpop_proof.js'
import { InvalidDpopProof } from '../../src/exchange/errors.js'
import { ConfigError } from '../../src/config/config_error.js'
import { FormLoginError } from '../../src/demo/form_login.js'
import { InvalidRequest } from '../../src/exchange/errors.js'
import { JwsVerificationError } from '../../src/jws/verify_jws.js'
import { AccessTokenClaimsError } from '../../src/jwt/access_token_claims.js'
import { ResourceAuthError } from '../../src/resource/errors.js'
import { UserTokenError } from '../../src/web/oidc_login.js'

test('every error class has a stable ERR_ code on the class and on its instances', () => {
  const cases: [{ readonly code: string }, { readonly code: string }][] = [
    [ActivityValidationError, new ActivityValidationError('x')],
    [TodoValidationError, new TodoValidationError('x')],
    [LoginError, new LoginError('x')],
    [KeycloakSetupError, new KeycloakSetupError('x')],
    [KeycloakLauncherError, new KeycloakLauncherError('port_in_use', 'x')],
    [TokenExchangeError, new TokenExchangeError('invalid_request', 'x', 400)],
    [ConfigError, new ConfigError(['x'])],
    [FormLoginError, new FormLoginError('no_code', 'x', 302)],
    [InvalidRequest, new InvalidRequest()],
    [InvalidDpopProof, new InvalidDpopProof()],
    [DpopProofError, new DpopProofError('replay', 'x')],
    [ResourceDiscoveryError, new ResourceDiscoveryError('not_found', 'x')],
    [JwsVerificationError, new JwsVerificationError('malformed')],
    [AccessTokenClaimsError, new AccessTokenClaimsError('exp', 'expiry', 'x')],
    [UserTokenError, new UserTokenError('not_logged_in', 'x')],
  ]
  for (const [errorClass, err] of cases) {
    assert.match(err.code, /^ERR_[A-Z_]+$/)
    assert.equal(err.code, errorClass.code)
  }
  assert.equal(
    new ResourceAuthError('invalid_token', { detail: 'x' }).code,
    'ERR_BEARER_INVALID_TOKEN',
  )
})

test('HTTP statuses are named statusCode everywhere', () => {
  assert.equal(new TokenExchangeError('invalid_request', 'x', 400).statusCode, 400)
  assert.equal(new FormLoginError('no_code', 'x', 302).statusCode, 302)
  assert.equal(new InvalidRequest().statusCode, 400)
  assert.equal(new ResourceAuthError('insufficient_scope', { detail: 'x' }).statusCode, 403)
})
