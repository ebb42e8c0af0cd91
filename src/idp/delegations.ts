/**
 * Delegation to an agent (RFC 8693 §4.4 `may_act`, issue 16): the user consents at the IdP that an
 * agent client may act for them at one service, with some scopes, until a date. The consent
 * creates an oidc-provider grant (expiring with the delegation) and a `delegation` row tied to it;
 * while that row lives, every access token issued on that grant carries
 * `may_act: { sub: <agent client_id> }`, which the exchange engine requires of an agent
 * (`tokenExchange.requireMayAct`) before it mints a token naming the user with `act.sub` = agent.
 *
 * Revoking (the account page) deletes the row and the grant with every row issued on it — refresh
 * tokens, device codes and the issued-token records, whose chain (`parentJti`) also covers every
 * token exchanged from them — so the agent's next exchange and refresh fail and what it holds is
 * inactive at introspection at once. A delegation that expires takes its grant with it (same
 * expiry), with the same effect.
 *
 * @example
 * ```ts
 * const delegations = createDelegations({ policy, storage })
 * const record = await delegations.create(provider, { sub, clientId: 'app-d' })
 * ```
 */
import { randomUUID } from 'node:crypto'
import type Provider from 'oidc-provider'
import type { IdpPolicy } from '../config/policy_file.js'
import { systemClock, type Clock } from '../time/clock.js'
import type { DelegationRecord, OidcStorage } from './oidc_storage.js'

export type { DelegationRecord }

/** OIDC scopes an agent's grant holds besides the delegated ones: sign-in and refresh. */
const AGENT_OIDC_SCOPES = ['openid', 'offline_access']

/** What the consent screen shows for one agent, from the policy. */
export interface DelegationOffer {
  readonly clientId: string
  readonly agentName: string
  readonly audience: string
  readonly audienceName: string
  readonly scopes: readonly string[]
  /** Seconds since the epoch: when a delegation given now ends. */
  readonly expiresAt: number
}

export interface Delegations {
  /** The offer for this client, undefined when it is not an agent (no `delegation` block). */
  offerFor(clientId: string): DelegationOffer | undefined
  /** Stores the user's delegation and its grant; resolves with the record. */
  create(provider: Provider, input: { sub: string; clientId: string }): Promise<DelegationRecord>
  /** The `may_act` claim of an access token issued on `grantId`, when it is a live delegation. */
  mayActFor(token: {
    grantId?: string
    clientId?: string
    accountId?: string
  }): Promise<{ sub: string } | undefined>
  list(sub: string): Promise<DelegationRecord[]>
  /** Removes the user's delegation `id` and revokes its grant; undefined when there is none. */
  revoke(provider: Provider, sub: string, id: string): Promise<DelegationRecord | undefined>
}

export function createDelegations(options: {
  policy: IdpPolicy
  storage: OidcStorage
  clock?: Clock
}): Delegations {
  const { policy, storage } = options
  const now = () => Math.floor((options.clock ?? systemClock)())
  const grants = new storage.Adapter('Grant')

  function offerFor(clientId: string): DelegationOffer | undefined {
    const client = policy.clients.get(clientId)
    const delegation = client?.delegation
    if (!client || !delegation) return undefined
    return Object.freeze({
      clientId,
      agentName: client.name,
      audience: delegation.audience,
      audienceName: policy.clients.get(delegation.audience)?.name ?? delegation.audience,
      scopes: Object.freeze([...delegation.scopes]),
      expiresAt: now() + delegation.lifetimeSeconds,
    })
  }

  /** The resource indicator of the agent's own tokens (its login audience). */
  function loginResourceOf(clientId: string): string | undefined {
    const audience = policy.clients.get(clientId)?.loginAudience
    return audience ? policy.exchange.targets.get(audience)?.resourceUris[0] : undefined
  }

  const delegations: Delegations = {
    offerFor,
    async create(provider, { sub, clientId }) {
      const offer = offerFor(clientId)
      const resource = loginResourceOf(clientId)
      if (!offer || !resource) throw new TypeError(`client ${clientId} is not an agent`)
      const createdAt = now()
      const lifetime = offer.expiresAt - createdAt
      // The grant ends with the delegation: its refresh tokens and access tokens die with it.
      // (`expiresIn` is BaseToken's constructor option; the typings omit it for Grant.)
      const grant = new provider.Grant({ accountId: sub, clientId, expiresIn: lifetime } as {
        accountId: string
        clientId: string
      })
      grant.addOIDCScope(AGENT_OIDC_SCOPES.join(' '))
      grant.addResourceScope(resource, offer.scopes.join(' '))
      const grantId = await grant.save()
      const record: DelegationRecord = Object.freeze({
        id: randomUUID(),
        sub,
        clientId,
        audience: offer.audience,
        scopes: offer.scopes,
        grantId,
        createdAt,
        expiresAt: offer.expiresAt,
      })
      try {
        await storage.delegations.insert(record)
      } catch (error) {
        await grants.destroy(grantId)
        throw error
      }
      return record
    },
    async mayActFor(token) {
      if (!token.grantId || !token.clientId || !offerFor(token.clientId)) return undefined
      const record = await storage.delegations.findByGrant(token.grantId)
      if (!record || record.clientId !== token.clientId || record.sub !== token.accountId) {
        return undefined
      }
      return { sub: record.clientId }
    },
    list: (sub) => storage.delegations.listBySub(sub),
    async revoke(provider, sub, id) {
      const record = await storage.delegations.deleteOwned(sub, id)
      if (!record) return undefined
      const grant = await provider.Grant.find(record.grantId)
      await grant?.destroy()
      // Every row issued on the grant: refresh tokens, device codes, issued-token records.
      await grants.revokeByGrantId(record.grantId)
      return record
    },
  }
  return Object.freeze(delegations)
}
