/**
 * The one audited runner behind every grant onbehalf decides (RFC 8693 exchange, the JWT
 * federation re-issue, client_credentials), free of Fastify and Koa: the OP's grants and the STS
 * run it alike. Per call it runs the grant's stages in their fixed order (grant.ts): parse →
 * authenticate → validate → decide → mint → respond.
 *
 * Exactly one audit event per call, written after the outcome is known and before anything is
 * returned: no token leaves without its record, and a sink that fails turns the answer into a
 * `server_error`. The minter is called only once the decision holds. OAuth errors are rethrown as
 * they are; anything else becomes a `ServerError` whose description leaks nothing (the original
 * stays as `cause` for server logs, its class name in the audit reason).
 *
 * @example
 * ```ts
 * const runner = createGrantRunner({ minter, audit })
 * const body = await runner.run(tokenExchangeGrant, { params: request.body, client })
 * ```
 */
import type { AuditEvent, AuditSink } from './audit.js'
import { OAuthError, ServerError } from './errors.js'
import type { AuditNote, Grant, GrantContext, GrantStages } from './grant.js'
import type { TokenMinter } from './mint.js'
import { systemClock, type Clock } from '../time/clock.js'

export interface GrantRunnerDeps<E extends AuditEvent = AuditEvent> {
  readonly minter: TokenMinter
  readonly audit: AuditSink<E>
  /** Defaults to the system clock. */
  readonly now?: Clock
}

export interface GrantRunner<E extends AuditEvent = AuditEvent> {
  run<S extends GrantStages & { readonly event: E }>(
    grant: Grant<S>,
    input: S['input'],
  ): Promise<S['response']>
}

export function createGrantRunner<E extends AuditEvent = AuditEvent>(
  deps: GrantRunnerDeps<E>,
): GrantRunner<E> {
  const { minter, audit } = deps
  if (typeof minter?.mint !== 'function')
    throw new TypeError('createGrantRunner: minter is required')
  if (typeof audit !== 'function') throw new TypeError('createGrantRunner: audit is required')
  const clock = deps.now ?? systemClock
  if (typeof clock !== 'function') throw new TypeError('createGrantRunner: now must be a function')

  async function run<S extends GrantStages & { readonly event: E }>(
    grant: Grant<S>,
    input: S['input'],
  ): Promise<S['response']> {
    const requester = grant.requesterOf(input)
    const event: Record<string, unknown> = {
      event: grant.event,
      outcome: 'refused',
      clientId: typeof requester === 'string' ? requester : '',
    }
    const context: GrantContext<S['event']> = Object.freeze({
      now: Math.floor(clock()),
      note: (fields: AuditNote<S['event']>) => void Object.assign(event, fields),
    })
    let response: S['response'] | undefined
    let failure: OAuthError | undefined
    try {
      const request = grant.parse(input, context)
      const client = grant.authenticate(request, input, context)
      const verified = await grant.validate(request, client, context)
      const decision = grant.decide(verified, context)
      const mintRequest = grant.mint(decision, context)
      let accessToken: string | undefined
      if (mintRequest !== undefined) {
        accessToken = await minter.mint(mintRequest)
        if (typeof accessToken !== 'string' || accessToken === '') {
          throw new ServerError({ detail: 'minter returned no token' })
        }
        event.issuedJti = mintRequest.claims.jti
      }
      response = grant.respond(decision, accessToken)
      event.outcome = 'issued'
    } catch (err) {
      failure =
        err instanceof OAuthError
          ? err
          : new ServerError({ detail: `unexpected ${describeError(err)}`, cause: err })
      event.error = failure.error
      event.reason = failure.detail
    }

    try {
      audit(freezeDefined(event) as unknown as S['event'])
    } catch (cause) {
      // No token leaves without its audit record.
      throw new ServerError({ detail: 'audit sink failed', cause })
    }
    if (failure !== undefined) throw failure
    return response as S['response']
  }

  return Object.freeze({ run })
}

/** The error's class name only: messages of foreign errors may quote input. */
function describeError(err: unknown): string {
  return err instanceof Error ? err.name : typeof err
}

function freezeDefined(event: Record<string, unknown>): Readonly<Record<string, unknown>> {
  const clean: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(event)) if (value !== undefined) clean[key] = value
  return Object.freeze(clean)
}
