/**
 * App D's state on disk: the user's refresh token (the delegation the agent holds), whose it is
 * and until when — one JSON file, mode 0600 in a 0700 folder (default `DATA_DIR/app-d`,
 * git-ignored). Written atomically (temporary file, then rename), so a crash never leaves half a
 * token. Never logged.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'

const stateSchema = z.object({
  version: z.literal(1),
  issuer: z.string().url(),
  clientId: z.string().min(1),
  /** The user the agent acts for (`sub` of their token). */
  sub: z.string().min(1),
  refreshToken: z.string().min(1),
  /** When the agent signed the user in (seconds since the epoch). */
  since: z.number().int(),
})

export type AgentState = z.infer<typeof stateSchema>

export interface AgentStateStore {
  readonly file: string
  read(): AgentState | undefined
  write(state: AgentState): void
  clear(): void
}

export class AgentStateError extends Error {
  static readonly code = 'ERR_AGENT_STATE'
  readonly code = AgentStateError.code
  override name = 'AgentStateError'
}

export function openAgentState(dir: string): AgentStateStore {
  const file = join(dir, 'agent.json')
  return Object.freeze({
    file,
    read() {
      let text: string
      try {
        text = readFileSync(file, 'utf8')
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw error
      }
      const parsed = stateSchema.safeParse(JSON.parse(text))
      if (!parsed.success) {
        throw new AgentStateError(
          `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        )
      }
      return parsed.data
    },
    write(state: AgentState) {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      chmodSync(dir, 0o700)
      const temporary = `${file}.${process.pid}.tmp`
      writeFileSync(temporary, `${JSON.stringify(stateSchema.parse(state))}\n`, { mode: 0o600 })
      renameSync(temporary, file)
    },
    clear() {
      rmSync(file, { force: true })
    },
  })
}
