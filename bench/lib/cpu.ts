/**
 * CPU time of a service process, read from /proc (Linux): utime + stime of the whole process (all
 * its threads: the event loop, the libuv pool, V8's GC and compiler threads), plus those of its
 * child processes (node:cluster workers). Read before and after a load run and divided by the
 * requests answered, it gives CPU per request — stable on a shared machine where throughput
 * mostly measures who else has the core.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

let ticksPerSecond: number | undefined

/** USER_HZ (`getconf CLK_TCK`), the unit of utime and stime; 100 on Linux unless built otherwise. */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    } catch {
      ticksPerSecond = 100
    }
    if (!(ticksPerSecond > 0)) ticksPerSecond = 100
  }
  return ticksPerSecond
}

/** [utime, stime] in ticks of one process, or undefined when it is gone. */
function ownTicks(pid: number): [number, number] | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return [Number(fields[11]), Number(fields[12])]
}

function childrenOf(pid: number): number[] {
  const children: number[] = []
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return children
  }
  for (const task of tasks) {
    try {
      const list = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim()
      if (list) children.push(...list.split(/\s+/).map(Number))
    } catch {
      // the thread ended meanwhile
    }
  }
  return children
}

export interface CpuTime {
  /** User-mode seconds (utime): JavaScript, V8, OpenSSL. */
  readonly user: number
  /** Kernel seconds (stime): socket reads and writes, mostly. */
  readonly system: number
}

/** CPU seconds used so far by `pid` and its descendants; throws when `pid` does not exist. */
export function cpuTime(pid: number): CpuTime {
  const own = ownTicks(pid)
  if (own === undefined) throw new Error(`no /proc/${pid}/stat: the process is gone`)
  let [user, system] = own
  const pending = childrenOf(pid)
  while (pending.length > 0) {
    const child = pending.pop()!
    const [u, s] = ownTicks(child) ?? [0, 0]
    user += u
    system += s
    pending.push(...childrenOf(child))
  }
  return { user: user / clockTicks(), system: system / clockTicks() }
}

/** CPU seconds so far of `pid` and of each descendant, one entry per process (own time only). */
export function cpuTimeByProcess(pid: number): Map<number, CpuTime> {
  const result = new Map<number, CpuTime>()
  const pending = [pid]
  while (pending.length > 0) {
    const next = pending.pop()!
    const own = ownTicks(next)
    if (own === undefined) continue
    result.set(next, { user: own[0] / clockTicks(), system: own[1] / clockTicks() })
    pending.push(...childrenOf(next))
  }
  return result
}
