/**
 * WAL checkpoints on a thread of their own instead of inside a commit on the event loop. SQLite's
 * automatic checkpoint runs in the statement that commits once the WAL passes `wal_autocheckpoint`
 * pages (default 1000, 4 MB), synchronously, and ends in an fsync: under sustained writes (the
 * IdP's one issued-token row per exchange) one group commit in ~40 carried one, and pages written
 * again and again (index roots, the tables' last leaves) were copied once per 4 MB. Here a second
 * connection on a worker thread runs a PASSIVE checkpoint every `everyMs` — its copy and its fsync
 * off the event loop; SQLite lets it run beside the serving connection's reads and writes — and the
 * serving connection keeps only the automatic checkpoint past `maxWalPages`. Under writes that
 * never pause the WAL cannot restart while frames arrive during each checkpoint, so it grows to
 * that bound, where the automatic checkpoint, by then copying little, restarts it.
 *
 * Measured (docs/performance.md, issue 18 part 5): the IdP's p99 under paced HTTP load at half its
 * peak 4.85 ms twice, against 9.2–10.8 ms with the same 200 ms checkpoints on the event loop,
 * 16 ms with 1 s ones there, ≈ 10 ms with SQLite's own — and 4.4 ms with no fsync at all
 * (`synchronous = OFF`, not an option: an OS crash could corrupt the database). CPU per exchange
 * the same within the noise; storage CPU 51–54 µs per exchange against 56–57 µs with SQLite's own
 * checkpoints (bench/idp_storage.ts, checkpoints on the loop).
 *
 * Durability is unchanged for a process crash (a commit is in the WAL, which the OS keeps) and
 * bounded for a power loss: with `synchronous = NORMAL` the WAL is fsynced only when checkpointed,
 * so what a power loss can take is what was committed since the last checkpoint — about `everyMs`
 * of writes, where the automatic checkpoint alone left a quiet database unsynced for as long as it
 * took to write 1000 pages.
 *
 * @example
 * const stop = checkpointWalInBackground(db, { everyMs: 200, maxWalPages: 10_000 })
 * // before db.close():
 * await stop()
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { SqliteDatabase } from './sqlite.js'

export interface WalCheckpointOptions {
  /** How often the WAL is checkpointed (PASSIVE: never waits, never blocks a writer). */
  readonly everyMs: number
  /** The automatic checkpoint's threshold: the WAL never grows much past this many pages. */
  readonly maxWalPages: number
}

/**
 * The checkpointer's thread: its own connection, a PASSIVE checkpoint every `everyMs`, closed on
 * any message. CommonJS source (a worker from a string), the driver's path handed in.
 */
const CHECKPOINT_THREAD = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file, { fileMustExist: true })
db.pragma('synchronous = NORMAL')
db.pragma('busy_timeout = 0')
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
  } catch {}
}, workerData.everyMs)
parentPort.once('message', () => {
  clearInterval(timer)
  db.close()
  parentPort.close()
})
`

/**
 * Starts the checkpoint thread (unref'd: it keeps no process alive); returns what stops it, which
 * resolves once the thread's connection is closed. An in-memory database has no WAL: nothing runs.
 */
export function checkpointWalInBackground(
  db: SqliteDatabase,
  options: WalCheckpointOptions,
): () => Promise<void> {
  db.pragma(`wal_autocheckpoint = ${Math.trunc(options.maxWalPages)}`)
  if (db.memory) return async () => {}
  const worker = new Worker(CHECKPOINT_THREAD, {
    eval: true,
    workerData: {
      file: db.name,
      everyMs: options.everyMs,
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
    },
  })
  worker.unref()
  // A failing checkpointer leaves the automatic checkpoint, which bounds the WAL: never fatal.
  worker.on('error', () => {})
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  return async () => {
    // Held open until the thread has closed its connection: a caller awaiting this must not find
    // its event loop empty meanwhile.
    worker.ref()
    worker.postMessage('stop')
    await exited
  }
}
