/** The machine a run came from: numbers without it mean little. */
import { arch, cpus, platform, release, totalmem } from 'node:os'

export interface MachineInfo {
  readonly cpuModel: string
  readonly cores: number
  readonly totalMemoryBytes: number
  readonly platform: string
  readonly arch: string
  readonly osRelease: string
  readonly node: string
  readonly v8: string
  readonly openssl: string
}

export function describeMachine(): MachineInfo {
  const list = cpus()
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    totalMemoryBytes: totalmem(),
    platform: platform(),
    arch: arch(),
    osRelease: release(),
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl,
  }
}
