/**
 * The oidc-provider instance that follows the signing key store. oidc-provider reads its `jwks`
 * once, at construction, and its author does not support changing it on a running instance: a
 * rotation is meant to be a (rolling) restart. This does that restart inside the process: on every
 * key change a new `Provider` is built with the new keys over the same storage adapter, cookie
 * keys, clients and middleware, and swapped in atomically. A request is handled to its end by
 * the instance it arrived at (in-flight requests finish on the old one); every later request
 * goes to the new one. Nothing a request needs lives in an instance alone (sessions, grants,
 * interactions and codes are in the adapter), so no exchange or login is refused.
 *
 * The swap happens synchronously inside the key store's change notification, so the JWKS that
 * oidc-provider publishes changes in the same tick as the key onbehalf's own minter signs with.
 *
 * @example
 * ```ts
 * const live = createLiveProvider(keyStore, (keys) => createProvider({ ...options, keys }), logger)
 * app.use((req, res) => live.handle(req, res))
 * ```
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type Provider from 'oidc-provider'
import type { SigningKeySet, SigningKeyStore } from '../keys/signing_key_store.js'
import type { Logger } from '../log/logger.js'

export interface LiveProvider {
  /** The instance new requests go to. */
  current(): Provider
  /** Node request handler: hands the request to the instance current when it arrives. */
  handle(req: IncomingMessage, res: ServerResponse): void
  /** Stops following the key store. */
  close(): void
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void

export function createLiveProvider(
  keyStore: SigningKeyStore,
  build: (keys: SigningKeySet) => Provider,
  logger: Logger,
): LiveProvider {
  let provider = build(keyStore.current())
  let handler = provider.callback() as Handler

  const unsubscribe = keyStore.subscribe((keys) => {
    try {
      const next = build(keys)
      const nextHandler = next.callback() as Handler
      provider = next
      handler = nextHandler
      logger.info(
        { event: 'idp_provider_rebuilt', activeKid: keys.active.kid, published: keys.keys.length },
        'identity provider now signs with the new key',
      )
    } catch (error) {
      // The previous instance keeps serving (its keys stay published); a restart would fail the same way.
      logger.error({ err: error, event: 'idp_provider_rebuild_failed' }, 'provider rebuild failed')
    }
  })

  return Object.freeze({
    current: () => provider,
    handle: (req: IncomingMessage, res: ServerResponse) => handler(req, res),
    close: unsubscribe,
  })
}
