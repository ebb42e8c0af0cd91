/**
 * A socket bound before its app exists. The embedded OP needs its issuer URL (and the apps'
 * redirect URIs) before it is built, so a test binds 127.0.0.1 port 0 first, reads the URL back,
 * builds the apps with it, then serves each ready app on its bound socket. No port is probed and
 * freed, so no other process can take it in between.
 *
 * @example
 * ```ts
 * const socket = await bindSocket()
 * const app = await buildSts(parseStsConfig({ issuer: socket.url, … }), { logger })
 * socket.serve(app)
 * t.after(async () => { await socket.close(); await app.close() })
 * ```
 */
import type { FastifyInstance } from 'fastify'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface BoundSocket {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string
  readonly port: number
  /** Serves `app` (a ready Fastify instance, never listening itself) on this socket. */
  serve(app: FastifyInstance): Promise<void>
  /** Stops accepting, drops open connections and resolves once the socket is closed. */
  close(): Promise<void>
}

export async function bindSocket(): Promise<BoundSocket> {
  let app: FastifyInstance | undefined
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (app) return app.routing(request, response)
    response.writeHead(503, { connection: 'close' }).end()
  })
  // Fastify answers malformed requests itself (400/408/431 JSON); hand them to it once serving.
  server.on('clientError', (error: Error, socket: Socket) => {
    if (app) app.server.emit('clientError', error, socket)
    else socket.destroy()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async serve(built) {
      await built.ready()
      // The same connection limits as Fastify's own server would apply when listening.
      server.keepAliveTimeout = built.server.keepAliveTimeout
      server.headersTimeout = built.server.headersTimeout
      server.requestTimeout = built.server.requestTimeout
      server.maxRequestsPerSocket = built.server.maxRequestsPerSocket
      app = built
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeAllConnections()
      }),
  }
}
