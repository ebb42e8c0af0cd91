/**
 * `onbehalf users hash-password`: prints the `passwordHash` for a USERS_FILE entry. The password is
 * read from standard input, never from the command line, so it stays out of the shell history and
 * of `ps`. The cost is the one the IdP verifies with.
 */
import { hashPassword } from '../idp/users.js'

export const USERS_USAGE =
  'usage: onbehalf users hash-password   (reads the password from standard input)'

const MAX_PASSWORD_BYTES = 1024

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
    size += buffer.length
    if (size > MAX_PASSWORD_BYTES) throw new RangeError('password longer than 1024 bytes')
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

export async function runUsersCommand(argv: readonly string[]): Promise<number> {
  if (argv.length !== 1 || argv[0] !== 'hash-password') {
    console.error(USERS_USAGE)
    return 2
  }
  if (process.stdin.isTTY) console.error('password (then Enter and Ctrl-D):')
  let input: string
  try {
    input = await readStdin()
  } catch (error) {
    console.error(`onbehalf users hash-password: ${(error as Error).message}`)
    return 2
  }
  // One trailing newline is the line ending of `echo` or a typed line, not part of the password.
  const password = input.replace(/\r?\n$/, '')
  if (password.length === 0) {
    console.error('onbehalf users hash-password: empty password on standard input')
    return 2
  }
  console.log(await hashPassword(password))
  return 0
}
