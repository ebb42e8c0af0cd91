#!/usr/bin/env node
/**
 * Builds the package: src/ → dist/ with tsc (tsconfig.build.json: ES modules, declarations,
 * source maps with the sources inlined), then copies every non-TypeScript file under src/ (the
 * stylesheet the apps serve) beside the compiled code that reads it.
 *
 *   node scripts/build.js          incremental (`tsc -b`: about a second when nothing changed)
 *   node scripts/build.js --clean  dist/ removed first, so nothing of a deleted source is shipped
 *                                  (what `npm pack` runs)
 *
 * Runs on `npm ci` (prepare), before `npm start` and on `npm pack` (prepack).
 */
import { execFileSync } from 'node:child_process'
import { cpSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const src = join(root, 'src')
const dist = join(root, 'dist')

if (process.argv.includes('--clean')) rmSync(dist, { recursive: true, force: true })

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
execFileSync(process.execPath, [tsc, '-b', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
})

for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts')) continue
  const from = join(entry.parentPath, entry.name)
  const to = join(dist, relative(src, from))
  cpSync(from, to)
}
