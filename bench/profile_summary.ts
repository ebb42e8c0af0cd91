/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --cpu-prof <service>`):
 * self time per function and per package, so a missed target can be explained from where the
 * time went.
 *
 *   node --import tsx bench/profile_summary.ts bench/results/profiles/<file>.cpuprofile [top]
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
}

interface Profile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

function packageOf(url: string): string {
  if (url === '') return '(native / V8)'
  if (url.startsWith('node:')) return 'node core'
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (match) return match[1]!
  const own = /\/(src|bench)\/(.*)$/.exec(url)
  return own ? `${own[1]}/${own[2]!.split('/').slice(0, -1).join('/') || '.'}` : url
}

function main(): void {
  const [file, topArg] = process.argv.slice(2)
  if (!file) throw new TypeError('usage: profile_summary.ts <file.cpuprofile> [top]')
  const top = Number(topArg ?? 25)
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfMicros = new Map<number, number>()
  profile.samples.forEach((id, index) =>
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)),
  )

  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  let total = 0
  for (const [id, micros] of selfMicros) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const name = `${functionName || '(anonymous)'}  ${url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${lineNumber + 1}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros)
    const pkg =
      functionName === '(idle)'
        ? '(idle)'
        : functionName === '(garbage collector)'
          ? '(garbage collector)'
          : packageOf(url)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros)
    total += micros
  }
  const busy = total - (byPackage.get('(idle)') ?? 0)
  const show = (title: string, entries: Map<string, number>, count: number) => {
    console.log(
      `\n${title} (share of busy time, ${(busy / 1e6).toFixed(1)} s busy of ${(total / 1e6).toFixed(1)} s)`,
    )
    for (const [name, micros] of [...entries]
      .filter(([n]) => n !== '(idle)' && !n.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)) {
      console.log(`${((micros / busy) * 100).toFixed(1).padStart(6)} %  ${name}`)
    }
  }
  show('self time by package', byPackage, 15)
  show('self time by function', byFunction, top)
}

main()
