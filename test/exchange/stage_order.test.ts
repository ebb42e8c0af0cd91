/**
 * Stage order is enforced by the compiler: each stage's output is branded, so a stage cannot be
 * reached without the one before it. The `@ts-expect-error` lines below are checked by `tsc`
 * (npm test runs it over test/): if a brand is lost, the error they expect disappears and the
 * typecheck fails. The test itself runs the stages in order, by hand, as the runner does.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decideFederation } from '../../src/exchange/jwt_federation/decide.js'
import { buildExchangeClaims } from '../../src/exchange/token_exchange/claims.js'
import { checkClientMayExchange, decideExchange } from '../../src/exchange/token_exchange/decide.js'
import { parseExchangeRequest } from '../../src/exchange/token_exchange/parse_request.js'
import type { ExchangeDecision, ExchangeRequest } from '../../src/exchange/token_exchange/types.js'
import { validateActorToken } from '../../src/exchange/token_exchange/validate_actor.js'
import { validateSubjectToken } from '../../src/exchange/token_exchange/validate_subject.js'
import { createGrantRunner } from '../../src/exchange/runner.js'
import type { VerifiedToken } from '../../src/exchange/types.js'
import {
  clientA,
  exchangeParams,
  ISSUER,
  NOW,
  policy,
  spyMinter,
  tokenDeps,
  userToken,
  type Unbranded,
} from './helpers.js'

test('the stages, run in order by hand, produce what the runner would mint', async () => {
  const deps = tokenDeps()
  const request = parseExchangeRequest(
    exchangeParams(userToken(), { audience: 'app-b' }),
    policy.limits,
  )
  const client = checkClientMayExchange(policy, clientA)
  const subject = await validateSubjectToken(request, deps)
  const actor = await validateActorToken(request, subject, client, deps)
  const decision = decideExchange({ request, client, subject, actor, policy, now: NOW })
  const claims = buildExchangeClaims(decision, { issuer: ISSUER })
  assert.equal(claims.sub, 'alice')
  assert.equal(claims.aud, 'app-b')
  assert.deepEqual(claims.act, { sub: 'app-a', iss: ISSUER })
})

/** Never called: only compiled. Each line skips or swaps a stage. */
export async function stagesThatDoNotCompile(plain: VerifiedToken): Promise<void> {
  const deps = tokenDeps()
  const request = parseExchangeRequest(exchangeParams(userToken()), policy.limits)
  const client = checkClientMayExchange(policy, clientA)
  const subject = await validateSubjectToken(request, deps)
  const actor = await validateActorToken(request, subject, client, deps)
  const decide = { request, client, subject, actor, policy, now: NOW }

  const handBuiltRequest: Unbranded<ExchangeRequest> = { ...request }
  // @ts-expect-error parse skipped: a hand-built object is not an ExchangeRequest
  await validateSubjectToken(handBuiltRequest, deps)
  // @ts-expect-error authenticate skipped: an AuthenticatedClient has not passed checkClientMayExchange
  await validateActorToken(request, subject, clientA, deps)
  // @ts-expect-error validate skipped: a plain VerifiedToken is not a VerifiedSubject
  decideExchange({ ...decide, subject: plain })
  // @ts-expect-error authenticate skipped: the client's exchange policy was never checked
  decideExchange({ ...decide, client: clientA })
  if (actor !== undefined) {
    // @ts-expect-error stages swapped: an actor token is not the subject
    decideExchange({ ...decide, subject: actor })
    // @ts-expect-error grants mixed: an exchange's subject is not a federation assertion
    decideFederation({ request, target: client, assertion: subject, lifetimeSeconds: 60, now: NOW })
  }
  const decision = decideExchange(decide)
  const handBuiltDecision: Unbranded<ExchangeDecision> = { ...decision }
  // @ts-expect-error decide skipped: a hand-built decision is not an ExchangeDecision
  buildExchangeClaims(handBuiltDecision, { issuer: ISSUER })
  const decided: ExchangeDecision = decision
  buildExchangeClaims(decided, { issuer: ISSUER })
  // @ts-expect-error the runner runs grants, not loose functions
  await createGrantRunner({ minter: spyMinter().minter, audit: () => {} }).run(decideExchange, {})
}
