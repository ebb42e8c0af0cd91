#!/usr/bin/env node
// The `onbehalf` command: the compiled CLI (dist/, built by `npm ci`, `npm run build` or `npm pack`).
import { existsSync } from 'node:fs'

const main = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  console.error('onbehalf: dist/ is missing; run `npm run build` in the onbehalf folder first')
  process.exit(1)
}
await import(main.href)
