#!/usr/bin/env node
/**
 * Builds the package: src/ → dist/ with tsc (tsconfig.build.json: ES modules, declarations,
 * source maps with the sources inlined), then copies every non-TypeScript file under src/ (the
 * stylesheet the apps serve) beside the compiled code that reads it.
 *
 *   node scripts/build.js          when a file under src/ (or a tsconfig) is newer than the last
 *                                  build; otherwise done in milliseconds (`npm start` runs this)
 *   node scripts/build.js --clean  dist/ removed first, so nothing of a deleted source is shipped
 *                                  (what `npm pack` runs)
 *
 * Runs on `npm ci` (prepare), before `npm start` and on `npm pack` (prepack).
 */
import { execFileSync } from 'node:child_process'
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const src = join(root, 'src')
const dist = join(root, 'dist')
const buildInfo = join(dist, '.tsbuildinfo')
const sources = readdirSync(src, { recursive: true, withFileTypes: true }).filter((entry) =>
  entry.isFile(),
)

if (process.argv.includes('--clean')) rmSync(dist, { recursive: true, force: true })

const mtime = (file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Infinity
function changedSinceLastBuild() {
  const built = statSync(buildInfo, { throwIfNoEntry: false })?.mtimeMs
  if (built === undefined) return true
  const inputs = [
    ...sources.map((entry) => join(entry.parentPath, entry.name)),
    join(root, 'tsconfig.json'),
    join(root, 'tsconfig.build.json'),
  ]
  return inputs.some((file) => mtime(file) > built)
}

if (changedSinceLastBuild()) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  try {
    execFileSync(process.execPath, [tsc, '-b', join(root, 'tsconfig.build.json')], {
      stdio: 'inherit',
    })
  } catch (error) {
    // tsc records a failed build too; without its record the next run builds again.
    rmSync(buildInfo, { force: true })
    throw error
  }
}

for (const entry of sources) {
  if (entry.name.endsWith('.ts')) continue
  const from = join(entry.parentPath, entry.name)
  cpSync(from, join(dist, relative(src, from)))
}
