/**
 * V8's compile cache for the CLI's modules (Node.js ≥ 22.1, `module.enableCompileCache`): a
 * process starting the stack loads about a thousand modules, and compiling them is the largest
 * single part of `onbehalf start`'s time to ready (docs/performance.md). With the cache a warm
 * start reuses the code V8 compiled last time instead of parsing every file again.
 *
 * Imported first by main.ts, so that every module the command loads after it is covered. Node 20
 * has no such API: there this does nothing. `NODE_DISABLE_COMPILE_CACHE=1` turns it off (Node's
 * own switch); `NODE_COMPILE_CACHE=<dir>` picks the folder (else `<os tmpdir>/node-compile-cache`).
 */
import module from 'node:module'

interface CompileCacheApi {
  // Its result (status, directory) is not read: a cache that is off only costs time.
  enableCompileCache?: (directory?: string) => unknown
}

const api = module as unknown as CompileCacheApi
if (
  typeof api.enableCompileCache === 'function' &&
  process.env.NODE_DISABLE_COMPILE_CACHE === undefined
) {
  try {
    api.enableCompileCache()
  } catch {
    // A cache that cannot be written (read-only tmp) must never stop the command; it only costs time.
  }
}
