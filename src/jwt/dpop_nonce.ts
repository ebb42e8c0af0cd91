/**
 * Server-issued DPoP nonces (RFC 9449 §8 at a token endpoint, §9 at a resource server): the server
 * hands out a nonce in `DPoP-Nonce`, and a proof must carry it (`nonce`), which bounds how long a
 * proof made in advance stays usable far better than `iat` alone.
 *
 * Nonces are time-windowed HMACs, so nothing is stored and several instances agree when they share
 * the secret: `<window in base 36>~<HMAC-SHA256(secret, window), base64url>`. A nonce of the
 * current window or of the previous one is accepted (a nonce handed out just before a window
 * turns still works), anything older is stale, a forged or mangled one is wrong. All three are
 * answered the same way (`use_dpop_nonce` with a fresh nonce); the difference goes to the detail.
 *
 * The options are validated with zod once (a `TypeError` naming the field).
 *
 * @example
 * ```ts
 * const nonces = createDpopNonces({ secret: process.env.DPOP_NONCE_SECRET, windowSeconds: 300 })
 * reply.header('DPoP-Nonce', nonces.current(now()))
 * nonces.check(proofNonce, now()) // 'ok' | 'missing' | 'stale' | 'wrong'
 * ```
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import type { EpochSeconds } from '../time/clock.js'

export const dpopNonceOptionsSchema = z.object({
  /** Shared by every instance that must accept each other's nonces; at least 32 characters. */
  secret: z.string().min(32, 'must be at least 32 characters'),
  /** How long one nonce window lasts; a nonce is accepted for one to two windows. */
  windowSeconds: z.number().int().min(10).max(3600).default(300),
})

export type DpopNonceOptions = z.input<typeof dpopNonceOptionsSchema>

export type DpopNonceVerdict = 'ok' | 'missing' | 'stale' | 'wrong'

export interface DpopNonces {
  /** The nonce to hand out now (`DPoP-Nonce`). */
  current(now: EpochSeconds): string
  /** Whether a proof's `nonce` claim is one this server handed out recently. */
  check(nonce: unknown, now: EpochSeconds): DpopNonceVerdict
}

const NONCE = /^([0-9a-z]{1,12})~([A-Za-z0-9_-]{43})$/

export function createDpopNonces(options: DpopNonceOptions): DpopNonces {
  const parsed = dpopNonceOptionsSchema.safeParse(options)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    throw new TypeError(`createDpopNonces: ${problems.join('; ')}`)
  }
  const { secret, windowSeconds } = parsed.data
  const mac = (window: number) =>
    createHmac('sha256', secret).update(`dpop-nonce:${window}`).digest()
  const windowOf = (now: EpochSeconds) => Math.floor(now / windowSeconds)

  return Object.freeze({
    current(now: EpochSeconds): string {
      const window = windowOf(now)
      return `${window.toString(36)}~${mac(window).toString('base64url')}`
    },
    check(nonce: unknown, now: EpochSeconds): DpopNonceVerdict {
      if (nonce === undefined) return 'missing'
      if (typeof nonce !== 'string') return 'wrong'
      const match = NONCE.exec(nonce)
      if (match === null) return 'wrong'
      const window = Number.parseInt(match[1]!, 36)
      const given = Buffer.from(match[2]!, 'base64url')
      const expected = mac(window)
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'wrong'
      const age = windowOf(now) - window
      return age === 0 || age === 1 ? 'ok' : 'stale'
    },
  })
}
