/**
 * Child-process entry for one service under load, so the load generator (the parent) and the
 * service never share an event loop, and the service's own memory and CPU profile can be read.
 *
 * The parent passes a `ServiceSpec` as JSON in BENCH_SERVICE; the child listens on 127.0.0.1,
 * sends `{ type: 'ready' }` over IPC, and on `{ type: 'stop' }` closes and exits normally (so
 * `--cpu-prof` writes its profile).
 */
import cluster from 'node:cluster'
import { pino } from 'pino'
import { loadEnv } from '../../src/config/env.js'
import { createLogger } from '../../src/log/logger.js'
import type { ServiceSpec } from '../lib/processes.js'
import { startBaseline } from './baseline.js'
import { startSts } from './sts.js'

const NO_ABUSE_LIMITS: object = { abuseLimits: { enabled: false } }

interface Closable {
  close(): Promise<unknown> | void
}

async function start(spec: ServiceSpec): Promise<Closable> {
  // Production log level, written to /dev/null: the audit lines are part of the cost of a request.
  const logger = createLogger(
    { level: spec.logLevel },
    pino.destination({ dest: '/dev/null', sync: true }),
  )
  const env = loadEnv(spec.env)
  switch (spec.kind) {
    case 'baseline': {
      const server = await startBaseline(spec.port)
      return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
    }
    case 'idp': {
      const { buildIdp } = await import('../../src/idp/app.js')
      // A load test from one address is exactly what the IdP's abuse limits refuse; they are
      // switched off here (an option older IdPs ignore), as the IdP documents for load tests.
      const idp = await buildIdp({ env, logger, ...NO_ABUSE_LIMITS })
      await idp.app.listen({ host: '127.0.0.1', port: spec.port })
      return idp.app
    }
    case 'app-b': {
      const { buildAppB } = await import('../../src/apps/app-b/app.js')
      const app = await buildAppB({ env, logger })
      await app.listen({ host: '127.0.0.1', port: spec.port })
      return app
    }
    case 'sts':
      return startSts({ env, logger, port: spec.port })
  }
}

const spec = JSON.parse(process.env.BENCH_SERVICE ?? 'null') as ServiceSpec | null
if (!spec || typeof process.send !== 'function') {
  console.error('bench/servers/main.ts is started by bench/run.ts (needs BENCH_SERVICE and IPC)')
  process.exit(2)
}
/** node:cluster: the primary forks `workers` copies that share the port, and reports ready once all are. */
async function startCluster(workers: number): Promise<Closable> {
  let ready = 0
  await new Promise<void>((resolve, reject) => {
    cluster.on('message', (_worker, message: { type?: string; message?: string }) => {
      if (message?.type === 'failed') reject(new Error(message.message))
      if (message?.type === 'ready' && ++ready === workers) resolve()
    })
    cluster.on('exit', () => reject(new Error('a worker exited during start')))
    for (let i = 0; i < workers; i++) cluster.fork()
  })
  return {
    async close() {
      cluster.removeAllListeners('exit')
      await Promise.all(
        Object.values(cluster.workers ?? {}).map(
          (worker) =>
            new Promise<void>((resolve) =>
              worker ? (worker.once('exit', () => resolve()), worker.kill()) : resolve(),
            ),
        ),
      )
    },
  }
}

try {
  const service =
    cluster.isPrimary && (spec.workers ?? 1) > 1
      ? await startCluster(spec.workers!)
      : await start(spec)
  process.on('message', async (message: { type?: string }) => {
    if (message?.type !== 'stop') return
    await service.close()
    process.exit(0)
  })
  process.send!({ type: 'ready' })
} catch (err) {
  process.send!({ type: 'failed', message: err instanceof Error ? err.message : String(err) })
  process.exit(1)
}
