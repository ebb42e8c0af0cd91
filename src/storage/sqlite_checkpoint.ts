/**
 * WAL checkpoints on a timer instead of inside a commit. SQLite's automatic checkpoint runs in
 * the statement that commits once the WAL passes `wal_autocheckpoint` pages (default 1000, 4 MB),
 * synchronously: under sustained writes (the IdP's one issued-token row per exchange) one group
 * commit in ~40 carried a checkpoint (copy 4 MB back into the database, fsync), and pages written
 * again and again (index roots, the tables' last leaves) were copied once per 4 MB. Here a PASSIVE
 * checkpoint runs between turns of the event loop every `everyMs`, and the automatic one only
 * past `maxWalPages`, the bound on the WAL under any load. Fewer, larger checkpoints: measured
 * with bench/idp_storage.ts (1000 ms, 10 000 pages) 10–13 % less CPU per exchange and a commit
 * p99 of 1.2–1.6 ms instead of 12 ms; the price is the rarer checkpoint that still lands in a
 * commit when writes outrun the timer, larger (that bench's p99.9 commit 67–75 ms, was 23 ms).
 *
 * Each checkpoint ends in an fsync of the database file, on the event loop: the larger the
 * checkpoint, the longer that stall (the IdP's p99 under paced HTTP load: ≈ 10 ms with SQLite's
 * own checkpoints, 16 ms with 1 s ones, ≈ 10 ms with 200 ms ones — and 4.4 ms with no fsync at all,
 * `synchronous = OFF`, which is not an option: an OS crash could corrupt the database).
 *
 * Durability is unchanged for a process crash (a commit is in the WAL, which the OS keeps) and
 * bounded for a power loss: with `synchronous = NORMAL` the WAL is fsynced only when checkpointed,
 * so what a power loss can take is what was committed since the last checkpoint — at most
 * `everyMs` of writes or `maxWalPages` pages, where the automatic checkpoint alone left a quiet
 * database unsynced for as long as it took to write 1000 pages.
 *
 * @example
 * const stop = checkpointWalPeriodically(db, { everyMs: 200, maxWalPages: 10_000 })
 * // before db.close():
 * stop()
 */
import type { SqliteDatabase } from './sqlite.js'

export interface WalCheckpointOptions {
  /** How often the WAL is checkpointed (PASSIVE: never waits, never blocks a writer). */
  readonly everyMs: number
  /** The automatic checkpoint's threshold: the WAL never grows much past this many pages. */
  readonly maxWalPages: number
}

/** Starts the timer (unref'd: it keeps no process alive); returns what stops it. */
export function checkpointWalPeriodically(
  db: SqliteDatabase,
  options: WalCheckpointOptions,
): () => void {
  db.pragma(`wal_autocheckpoint = ${Math.trunc(options.maxWalPages)}`)
  const timer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)')
    } catch {
      // Busy or failing now: the next tick tries again, and the automatic checkpoint bounds the WAL.
    }
  }, options.everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
