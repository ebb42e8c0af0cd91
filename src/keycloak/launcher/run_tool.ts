/**
 * Runs a helper program (mvn, unzip, java) to completion, keeping the tail of its output for the
 * error message. A missing program is `undefined` (ENOENT), so the caller can say what to install.
 */
import { spawn } from 'node:child_process'

export interface ToolResult {
  readonly code: number
  /** The last lines of stdout and stderr together. */
  readonly tail: string
}

export function runTool(
  command: string,
  args: readonly string[],
  options: { cwd?: string } = {},
): Promise<ToolResult | undefined> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    child.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ENOENT' ? resolvePromise(undefined) : reject(error),
    )
    child.on('close', (code) =>
      resolvePromise({
        code: code ?? 1,
        tail: output.trim().split('\n').slice(-15).join('\n'),
      }),
    )
  })
}
