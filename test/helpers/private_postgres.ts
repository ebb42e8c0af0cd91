/**
 * A PostgreSQL server of a test's own, so the test may stop and start it under load without
 * touching the machine's shared server (other work uses it). `initdb` into a temporary folder
 * (trust authentication), listening on 127.0.0.1 on a free port, its Unix socket in the same
 * folder; as root every binary runs as the `postgres` user (`runuser`), who owns the folder.
 * Binaries from `/usr/lib/postgresql/<version>/bin` (`PG_BIN` overrides). No network needed.
 */
import { execFile } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { servicesRequired } from './services.js'
import { freePort } from './topology.js'

const run = promisify(execFile)

function pgBin(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a))
  const found = versions
    .map((v) => join(root, v, 'bin'))
    .find((bin) => existsSync(join(bin, 'initdb')))
  return found
}

const asRoot = process.getuid?.() === 0

/** Undefined when a private server can be made here; otherwise why not (a skip reason). */
export function privatePostgresUnavailable(): string | undefined {
  if (pgBin() === undefined)
    return servicesRequired('PostgreSQL server binaries (initdb) not found')
  return undefined
}

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string
  readonly port: number
  stop(): Promise<void>
  start(): Promise<void>
  /** Stops the server (when running) and removes its folder. */
  destroy(): Promise<void>
}

async function as(command: string, args: string[]): Promise<void> {
  if (asRoot) await run('runuser', ['-u', 'postgres', '--', command, ...args])
  else await run(command, args)
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = pgBin()
  if (!bin) throw new Error('PostgreSQL server binaries not found')
  const dir = mkdtempSync(join(tmpdir(), 'onbehalf-pg-'))
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres'])
    const { stdout: gid } = await run('id', ['-g', 'postgres'])
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()))
  }
  const data = join(dir, 'data')
  const port = await freePort()
  await as(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses='127.0.0.1'",
    '-c fsync=off',
    '-c max_connections=50',
  ].join(' ')
  let running = false
  const server: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await as(join(bin, 'pg_ctl'), [
        'start',
        '-w',
        '-t',
        '60',
        '-D',
        data,
        '-l',
        join(dir, 'log'),
        '-o',
        options,
      ])
      running = true
    },
    async stop() {
      await as(join(bin, 'pg_ctl'), ['stop', '-w', '-t', '60', '-m', 'fast', '-D', data])
      running = false
    },
    async destroy() {
      if (running) await server.stop().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
  try {
    await server.start()
  } catch (error) {
    await server.destroy()
    throw error
  }
  return server
}
