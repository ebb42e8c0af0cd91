/**
 * App A's on-behalf call at the client level, with the product's own pieces: the token exchange
 * client with its `ExchangedTokenCache` (src/client) and App A's App B client. App A's pages need
 * a browser session, so the call is measured one level below them — what a page view does.
 *
 * Three variants, one call at a time, each for a bounded time:
 * - direct: App B's service API with a token already in hand (no exchange step at all);
 * - hit: exchange through the cache (a fresh entry) + the App B call;
 * - miss: the cache emptied first, so a real exchange at the token endpoint + the App B call.
 * "Added" is a variant's p50 minus direct's p50: what the exchange step costs a page view.
 */
import { createAppBClient } from '../../src/apps/app-a/app_b_client.js'
import { createTokenExchangeClient, ExchangedTokenCache } from '../../src/client/index.js'
import { round } from './wrk.js'

export interface LatencySummary {
  readonly calls: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly meanMs: number
}

export interface OnBehalfResult {
  readonly tokenEndpoint: string
  readonly direct: LatencySummary
  readonly hit: LatencySummary
  readonly miss: LatencySummary
  readonly addedP50Ms: { readonly hit: number; readonly miss: number }
}

export interface OnBehalfInput {
  readonly tokenEndpoint: string
  readonly clientId: string
  readonly clientSecret: string
  readonly appBUrl: string
  readonly audience: string
  readonly scope: string
  readonly subjectToken: string
  readonly durationSeconds: number
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

async function timeCalls(
  call: () => Promise<void>,
  durationSeconds: number,
): Promise<LatencySummary> {
  for (let i = 0; i < 20; i++) await call() // warm-up: connections open, code paths compiled
  const samples: number[] = []
  const deadline = performance.now() + durationSeconds * 1000
  while (performance.now() < deadline) {
    const started = performance.now()
    await call()
    samples.push(performance.now() - started)
  }
  const sorted = samples.sort((a, b) => a - b)
  return {
    calls: sorted.length,
    p50Ms: round(percentile(sorted, 50), 3),
    p99Ms: round(percentile(sorted, 99), 3),
    meanMs: round(sorted.reduce((sum, value) => sum + value, 0) / sorted.length, 3),
  }
}

export async function measureOnBehalf(input: OnBehalfInput): Promise<OnBehalfResult> {
  const cache = new ExchangedTokenCache({ maxEntries: 1000 })
  const exchanger = createTokenExchangeClient({
    tokenEndpoint: input.tokenEndpoint,
    clientId: input.clientId,
    clientSecret: input.clientSecret,
    cache,
  })
  const appB = createAppBClient({ baseUrl: input.appBUrl })
  const params = { subjectToken: input.subjectToken, audience: input.audience, scope: input.scope }

  async function callAppB(accessToken: string): Promise<void> {
    const result = await appB.todoCount(accessToken)
    if (!result.ok) throw new Error(`App B refused the call: ${JSON.stringify(result.failure)}`)
  }
  async function onBehalfCall(): Promise<void> {
    const exchanged = await exchanger.exchange(params)
    await callAppB(exchanged.accessToken)
  }

  const held = (await exchanger.exchange(params)).accessToken
  const direct = await timeCalls(() => callAppB(held), input.durationSeconds)
  const hit = await timeCalls(onBehalfCall, input.durationSeconds)
  const miss = await timeCalls(async () => {
    cache.clear()
    await onBehalfCall()
  }, input.durationSeconds)
  return {
    tokenEndpoint: input.tokenEndpoint,
    direct,
    hit,
    miss,
    addedP50Ms: {
      hit: round(hit.p50Ms - direct.p50Ms, 3),
      miss: round(miss.p50Ms - direct.p50Ms, 3),
    },
  }
}
