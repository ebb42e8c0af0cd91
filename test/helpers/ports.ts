/**
 * Ports for servers started in another process (a spawned stack, nginx, Keycloak, PostgreSQL),
 * which need their number before they listen. Each is drawn below the kernel's ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range): a port in that range can be handed to anything between
 * the probe and the child's bind — `listen(0)` elsewhere, or the local end of any outgoing
 * connection, and a bench run makes thousands — which CI saw as EADDRINUSE on a port that had just
 * been free. Below the range, only an explicit bind can take it, and this module never hands the
 * same port out twice in one process.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/**
 * Above every port the Fetch standard blocks ("bad ports", the highest is 10080): Node's fetch and
 * browsers refuse to connect there, so a readiness check of a server on such a port never succeeds.
 */
const LOWEST = 10_100
const handedOut = new Set<number>()

/** The first port of the kernel's ephemeral range (Linux), or the IANA dynamic range's start. */
function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)
    const port = Number(low)
    if (Number.isInteger(port) && port > LOWEST + 1000) return port
  } catch {
    // not Linux: fall through
  }
  return 49_152
}

/** Whether 127.0.0.1:port can be bound right now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () =>
      server.close(() => resolve(true)),
    )
  })
}

/** A port on 127.0.0.1 that is free now and that the OS will not hand to anyone else. */
export async function freePort(): Promise<number> {
  const highest = ephemeralRangeStart() - 1
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (highest - LOWEST + 1))
    if (handedOut.has(port)) continue
    if (await canBind(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free port on 127.0.0.1 between ${LOWEST} and ${highest} after 200 tries`)
}
