/** Reading the deploy files for the static checks: JSON, compose YAML and authentik blueprints. */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse, type Tags } from 'yaml'

export const deployPath = (relative: string) =>
  fileURLToPath(new URL(`../../deploy/${relative}`, import.meta.url))
export const readDeploy = (relative: string) => readFileSync(deployPath(relative), 'utf8')

export function readJson<T = any>(relative: string): T {
  return JSON.parse(readDeploy(relative)) as T
}

export function readYaml<T = any>(relative: string): T {
  return parse(readDeploy(relative)) as T
}

/** A blueprint tag kept as data: `!KeyOf x` → `{ '!KeyOf': 'x' }`, `!Find [a, [b, c]]` → `{ '!Find': [a, [b, c]] }`. */
function keepTag(tag: string): Tags {
  return [
    { tag: `!${tag}`, resolve: (value: string) => ({ [`!${tag}`]: value }) },
    { tag: `!${tag}`, collection: 'seq', resolve: (seq: any) => ({ [`!${tag}`]: seq.toJSON() }) },
  ] as unknown as Tags
}

export function readBlueprint<T = any>(relative: string): T {
  return parse(readDeploy(relative), {
    customTags: [...keepTag('KeyOf'), ...keepTag('Find'), ...keepTag('Env'), ...keepTag('Context')],
  }) as T
}

/** `image: repo:tag` where tag may be `${VAR:-default}`: the effective default tag. */
export function imageTag(image: string): string {
  const tag = image.slice(image.lastIndexOf(':') + 1).replace(/\}$/, '')
  const match = /^\$\{[A-Z_]+:-(.+)$/.exec(
    image.slice(image.indexOf(':', image.indexOf('/')) + 1).replace(/\}$/, ''),
  )
  return match ? match[1]! : tag
}
