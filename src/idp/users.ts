/**
 * The IdP's user directory, loaded from a seed file. Passwords are stored as scrypt hashes
 * (`scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>`); checking a password always costs one scrypt,
 * also for unknown users, so timing does not reveal which usernames exist.
 */
import {
  randomBytes,
  scrypt as scryptCallback,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto'
import { readFileSync } from 'node:fs'
import { z } from 'zod'

function scrypt(
  password: string,
  salt: Buffer,
  keylen: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCallback(password, salt, keylen, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  )
}

const HASH_PATTERN = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/

const userSchema = z.object({
  sub: z.string().min(1).max(255),
  username: z.string().regex(/^[a-z0-9._-]{1,64}$/, 'lowercase letters, digits, . _ - (1-64)'),
  name: z.string().min(1),
  email: z.string().email(),
  passwordHash: z.string().regex(HASH_PATTERN, 'must be scrypt$N$r$p$salt$hash'),
})
const usersFileSchema = z.object({ users: z.array(userSchema).min(1) })

export type User = Readonly<z.infer<typeof userSchema>>

export async function hashPassword(
  password: string,
  cost = { N: 16384, r: 8, p: 1 },
): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scrypt(password, salt, 32, { ...cost, maxmem: 64 * 1024 * 1024 })
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`
}

async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const [, N, r, p, salt, expected] = HASH_PATTERN.exec(encoded)!
  const expectedBytes = Buffer.from(expected!, 'base64url')
  const actual = await scrypt(password, Buffer.from(salt!, 'base64url'), expectedBytes.length, {
    N: Number(N),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  })
  return timingSafeEqual(actual, expectedBytes)
}

export interface UserDirectory {
  findBySub(sub: string): User | undefined
  findByUsername(username: string): User | undefined
  /** The user when the credentials match, else undefined. Same cost whether or not the user exists. */
  authenticate(username: string, password: string): Promise<User | undefined>
}

export function loadUserDirectory(file: string): UserDirectory {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (cause) {
    throw new TypeError(`users file ${file} cannot be read as JSON`, { cause })
  }
  const result = usersFileSchema.safeParse(raw)
  if (!result.success) {
    const issue = result.error.issues[0]!
    throw new TypeError(`users file ${file}: ${issue.path.join('.')}: ${issue.message}`)
  }
  const users = result.data.users
  const bySub = new Map(users.map((user) => [user.sub, Object.freeze(user)]))
  const byUsername = new Map(users.map((user) => [user.username, Object.freeze(user)]))
  if (bySub.size !== users.length) throw new TypeError(`users file ${file}: duplicate sub`)
  if (byUsername.size !== users.length)
    throw new TypeError(`users file ${file}: duplicate username`)
  // An unknown username is checked against this hash so it costs the same as a known one.
  const decoyHash = users[0]!.passwordHash

  return {
    findBySub: (sub) => bySub.get(sub),
    findByUsername: (username) => byUsername.get(username.trim().toLowerCase()),
    async authenticate(username, password) {
      const user = byUsername.get(username.trim().toLowerCase())
      const matches = await verifyPassword(password, user?.passwordHash ?? decoyHash)
      return user && matches ? user : undefined
    },
  }
}
