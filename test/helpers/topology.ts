/**
 * Several instances behind a real load balancer, started by a test: two IdP instances with one
 * issuer, two STS instances and two App B instances, each on its own 127.0.0.1 socket (port 0),
 * all on one PostgreSQL
 * schema of their own and one Redis key prefix of their own, behind nginx (/usr/sbin/nginx, a
 * config generated in a temporary folder, `daemon off`, a child process of the test). nginx
 * listens on one port per service, chosen by the system (listen on 0, read, close), round-robin,
 * no sticky sessions, and says which instance answered in `x-upstream`. A request with
 * `x-test-instance: N` goes to instance N through the same proxy (Host and all), so a test can
 * put each step of a flow on the instance it chooses. The IdP's policy is config/policy.json with
 * `todos:write` added to App A's exchange ceiling, so a test can write todos through App B's API.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { configVariables, loadEnv, type Env } from '../../src/config/env.js'
import { buildAppB } from '../../src/apps/app-b/app.js'
import { buildIdp, type AbuseLimitsInput, type Idp } from '../../src/idp/app.js'
import { createLogger } from '../../src/log/logger.js'
import { buildStsWithSharedState } from '../../src/cli/sts_shared_state.js'
import { readStsConfigFile } from '../../src/sts/config.js'
import { bindSocket, type BoundSocket } from './listen.js'
import { freePort } from './ports.js'
import { testSchema, type TestSchema } from './postgres.js'
import { TEST_REDIS_URL } from './redis.js'

export const NGINX = '/usr/sbin/nginx'

export interface Topology {
  env: Env
  /** The load balancer's URL for each service (the IdP's is the issuer). */
  readonly lb: { idp: string; sts: string; appB: string }
  readonly idps: readonly Idp[]
  readonly idpUrls: readonly string[]
  readonly stsUrls: readonly string[]
  readonly appBUrls: readonly string[]
  readonly schema: TestSchema
  close(): Promise<void>
}

/** nginx needs a number in its config: a port the OS will not hand to anyone else. */
export { freePort }

function nginxConfig(dir: string, services: readonly NginxService[]): string {
  const user = process.getuid?.() === 0 ? 'user root;\n' : ''
  const blocks = services.map(
    ({ name, port, upstreams }) => `
  # A test may pin one request to one instance (x-test-instance: 0, 1); otherwise round-robin.
  map $http_x_test_instance $${name}_target {
    default ${name};
${upstreams.map((p, index) => `    ${index} 127.0.0.1:${p};`).join('\n')}
  }
  upstream ${name} {
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 8;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://$${name}_target;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Request-Id $request_id;
      # A dead instance: the request goes to the other one. nginx passes a POST on only when it
      # never reached an instance (connect refused); one that did gets 502, and the client kit
      # retries it where a repeat cannot double an effect (src/client/retry.ts). At most one other
      # instance, within 5 s; a failed instance is left out for fail_timeout after max_fails.
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 2;
      proxy_next_upstream_timeout 5s;
      proxy_connect_timeout 1s;
      add_header X-Upstream $upstream_addr always;
    }
  }`,
  )
  return `${user}daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${blocks.join('\n')}
}
`
}

type NginxService = { name: string; port: number; upstreams: readonly number[] }

export interface Nginx {
  stop(): Promise<void>
  /** The last lines of nginx's error log (why it answered 502), for a failing test's message. */
  errorLogTail(lines?: number): string
}

/** Starts nginx in front of `services` (config in `dir`); resolves when every port accepts. */
export async function startNginx(dir: string, services: readonly NginxService[]): Promise<Nginx> {
  const child = await spawnNginx(
    dir,
    nginxConfig(dir, services),
    services.map((s) => s.port),
  )
  return {
    errorLogTail(lines = 20) {
      try {
        return readFileSync(join(dir, 'error.log'), 'utf8')
          .trimEnd()
          .split('\n')
          .slice(-lines)
          .join('\n')
      } catch {
        return '(no nginx error log)'
      }
    },
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}

async function spawnNginx(
  dir: string,
  config: string,
  ports: readonly number[],
): Promise<ChildProcess> {
  const file = join(dir, 'nginx.conf')
  writeFileSync(file, config)
  const child = spawn(NGINX, ['-p', dir, '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk) => (stderr += String(chunk)))
  // Ready when every port accepts connections. A TCP connect, not a request: a request would be
  // proxied to upstreams that may not be started yet, and nginx would mark them failed for
  // fail_timeout, so the first requests after a fast start would meet "no live upstreams".
  const deadline = Date.now() + 10_000
  for (const port of ports) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`)
      try {
        await new Promise<void>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.destroy()
            resolve()
          })
          socket.once('error', reject)
        })
        break
      } catch {
        if (Date.now() > deadline) throw new Error(`nginx not listening on ${port}: ${stderr}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
  return child
}

/**
 * config/policy.json with `todos:write` in App A's exchange ceiling, written to `dir`: the shipped
 * demo never writes through App B's API, the topology tests do.
 */
export function writeWritablePolicy(dir: string): string {
  const policy = JSON.parse(
    readFileSync(new URL('../../config/policy.json', import.meta.url), 'utf8'),
  ) as {
    clients: { 'app-a': { tokenExchange: { scopeCeiling: string[] } } }
  }
  policy.clients['app-a'].tokenExchange.scopeCeiling.push('todos:write')
  const file = join(dir, 'policy.json')
  writeFileSync(file, JSON.stringify(policy))
  return file
}

export async function startTopology(
  options: { abuseLimits?: AbuseLimitsInput } = {},
): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'onbehalf-topology-'))
  const sockets: BoundSocket[] = []
  const apps: FastifyInstance[] = []
  let nginx: Nginx | undefined
  const schema = await testSchema()
  const close = async () => {
    await nginx?.stop()
    for (const socket of sockets) await socket.close()
    for (const app of apps.reverse()) await app.close()
    await schema.drop()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const bind = async () => {
      const socket = await bindSocket()
      sockets.push(socket)
      return socket
    }
    const idpSockets = [await bind(), await bind()]
    const stsSockets = [await bind(), await bind()]
    const appBSockets = [await bind(), await bind()]
    const lbPorts = { idp: await freePort(), sts: await freePort(), appB: await freePort() }
    const lb = {
      idp: `http://127.0.0.1:${lbPorts.idp}`,
      sts: `http://127.0.0.1:${lbPorts.sts}`,
      appB: `http://127.0.0.1:${lbPorts.appB}`,
    }
    const redisUrl = new URL(TEST_REDIS_URL)
    const env = loadEnv({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: join(dir, 'data'),
      IDP_ISSUER: lb.idp,
      STS_ISSUER: lb.sts,
      APP_B_URL: lb.appB,
      POLICY_FILE: writeWritablePolicy(dir),
      DATABASE_URL: schema.url,
      REDIS_URL: redisUrl.toString(),
      // This run's limiter keys only: earlier runs' counts in the same Redis are not seen.
      REDIS_KEY_PREFIX: `onbehalf-test-${randomBytes(6).toString('hex')}:`,
    })
    const logger = createLogger({ level: env.LOG_LEVEL })
    // Instances start together, as after a deploy: one migration, one first key.
    const idps = await Promise.all(
      idpSockets.map(() => buildIdp({ env, logger, abuseLimits: options.abuseLimits })),
    )
    for (const [index, idp] of idps.entries()) {
      apps.push(idp.app)
      await idpSockets[index]!.serve(idp.app)
    }
    nginx = await startNginx(dir, [
      { name: 'idp', port: lbPorts.idp, upstreams: idpSockets.map((s) => s.port) },
      { name: 'sts', port: lbPorts.sts, upstreams: stsSockets.map((s) => s.port) },
      { name: 'app_b', port: lbPorts.appB, upstreams: appBSockets.map((s) => s.port) },
    ])
    const stsConfig = readStsConfigFile(env.STS_CONFIG, configVariables(env))
    const stss = await Promise.all(
      stsSockets.map(() => buildStsWithSharedState(stsConfig, { env, logger })),
    )
    for (const [index, sts] of stss.entries()) {
      apps.push(sts)
      await stsSockets[index]!.serve(sts)
    }
    const appBs = await Promise.all(appBSockets.map(() => buildAppB({ env, logger })))
    for (const [index, appB] of appBs.entries()) {
      apps.push(appB)
      await appBSockets[index]!.serve(appB)
    }
    return {
      env,
      lb,
      idps,
      idpUrls: idpSockets.map((s) => s.url),
      stsUrls: stsSockets.map((s) => s.url),
      appBUrls: appBSockets.map((s) => s.url),
      schema,
      close,
    }
  } catch (error) {
    await close()
    throw error
  }
}
