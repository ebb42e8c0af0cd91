/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of a server, that a test can take down and bring
 * back: down, it resets every open connection and every new one (as an unreachable host would,
 * without the port ever being free for someone else), up, it forwards again. Put it at a
 * server's public URL (an issuer) to make that server "briefly unreachable" for everyone.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

export interface SwitchableProxy {
  readonly url: string
  /** Where connections go while up. */
  target: number
  down(): void
  up(): void
  close(): Promise<void>
}

export async function startSwitchableProxy(target = 0): Promise<SwitchableProxy> {
  let isUp = true
  const open = new Set<Socket>()
  const track = (socket: Socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  }
  const state = { target }
  const server: Server = createServer((client) => {
    if (!isUp) {
      client.resetAndDestroy()
      return
    }
    const upstream = createConnection({ host: '127.0.0.1', port: state.target })
    track(client)
    track(upstream)
    client.pipe(upstream).pipe(client)
    const drop = () => {
      client.destroy()
      upstream.destroy()
    }
    client.once('error', drop)
    upstream.once('error', drop)
    client.once('close', drop)
    upstream.once('close', drop)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get target() {
      return state.target
    },
    set target(value: number) {
      state.target = value
    },
    down() {
      isUp = false
      for (const socket of open) socket.destroy() // kept-alive connections too
    },
    up() {
      isUp = true
    },
    async close() {
      for (const socket of open) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
