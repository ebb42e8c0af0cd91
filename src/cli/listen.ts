/**
 * Listening and stopping for the launchers (`onbehalf start`, `onbehalf idp`, `onbehalf sts`):
 * build each service, listen, and close them all in reverse order on SIGINT / SIGTERM. Its own
 * module so that `onbehalf sts` loads only the STS, not the IdP and the apps that start.ts builds
 * (oidc-provider, Koa, SQLite: about 40 MB of resident memory the STS never uses).
 */
import type { FastifyInstance } from 'fastify'
import type { Logger } from '../log/logger.js'

interface Running {
  name: string
  app: FastifyInstance
}

export async function listenAll(
  services: Array<{ name: string; port: number; build: () => Promise<FastifyInstance> }>,
  host: string,
  logger: Logger,
): Promise<Running[]> {
  const running: Running[] = []
  try {
    for (const service of services) {
      const app = await service.build()
      running.push({ name: service.name, app })
      await app.listen({ host, port: service.port })
    }
  } catch (error) {
    await closeAll(running, logger)
    throw error
  }
  return running
}

async function closeAll(running: Running[], logger: Logger): Promise<void> {
  for (const { name, app } of [...running].reverse()) {
    try {
      await app.close()
    } catch (error) {
      logger.error({ err: error, service: name }, 'error while stopping')
    }
  }
}

export function stopOnSignal(running: Running[], logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      logger.info({ signal }, 'stopping')
      closeAll(running, logger).then(resolve, resolve)
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
}
