/**
 * What `keycloak up` started, in KEYCLOAK_HOME/keycloak.json, so `down` and `status` find it from
 * another shell: the process id (the leader of its own process group: kc.sh and its java), the URL
 * and the version.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'

const stateSchema = z.object({
  pid: z.number().int().positive(),
  version: z.string(),
  url: z.string(),
  issuer: z.string(),
  managementPort: z.number().int(),
  log: z.string(),
  startedAt: z.string(),
})
export type KeycloakProcessState = z.infer<typeof stateSchema>

const stateFile = (home: string) => join(home, 'keycloak.json')

export function writeState(home: string, state: KeycloakProcessState): void {
  writeFileSync(stateFile(home), `${JSON.stringify(state, null, 2)}\n`)
}

/** The recorded process, or undefined when there is none (or the file is not ours). */
export function readState(home: string): KeycloakProcessState | undefined {
  if (!existsSync(stateFile(home))) return undefined
  const parsed = stateSchema.safeParse(
    (() => {
      try {
        return JSON.parse(readFileSync(stateFile(home), 'utf8')) as unknown
      } catch {
        return undefined
      }
    })(),
  )
  return parsed.success ? parsed.data : undefined
}

export function clearState(home: string): void {
  rmSync(stateFile(home), { force: true })
}

/** Signal 0 tests for existence without touching the process. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
