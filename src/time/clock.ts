/**
 * The one clock unit of onbehalf: whole or fractional seconds since the Unix epoch, as JWT
 * NumericDates (RFC 7519 §2) are. Every injectable clock (`now` options, for tests) is a `Clock`;
 * milliseconds appear only where a platform API wants them (timers, `Date`, cookie `Expires`).
 *
 * @example
 * ```ts
 * const clock: Clock = options.now ?? systemClock
 * if (record.expiresAt <= clock()) expire(record)
 * ```
 */

/** Seconds since the Unix epoch (may carry a fraction). */
export type EpochSeconds = number

/** A source of the current time in seconds since the Unix epoch. */
export type Clock = () => EpochSeconds

/** The system clock, in seconds. */
export const systemClock: Clock = () => Date.now() / 1000
