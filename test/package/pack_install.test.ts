/**
 * What a user does with onbehalf as a package: `npm pack` (from a clean copy of the repository's
 * files, so the build runs as on a fresh clone and never touches this checkout's dist/), install
 * the tarball into an empty project, import every entry point with plain `node` (no tsx), type-check
 * a consumer against the shipped declarations with `tsc`, run `npx onbehalf` from that project, and
 * run the README's two examples against the IdP it started, with a real exchanged token.
 *
 * The project's dependencies come from the npm registry through npm's cache (`--prefer-offline`:
 * after `npm ci` every tarball is there). better-sqlite3 installs as npm runs it, except that its
 * prebuilt binary comes from a local folder (prebuild-install's `local_prebuilds` setting, filled
 * with the addon this checkout's `npm ci` compiled) instead of GitHub, which CI cannot reach and
 * whose absence would mean compiling SQLite for minutes.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEVELOPMENT_SECRETS } from '../../src/config/env.js'
import { signInWithLoginForm } from '../../src/demo/form_login.js'
import { freePort } from '../helpers/ports.js'

const execFileAsync = promisify(execFile)
const REPO = fileURLToPath(new URL('../../', import.meta.url))
const repoPackage = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string
  exports: Record<string, string | { types: string; default: string }>
}
const installedVersion = (name: string) =>
  (
    JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string
    }
  ).version

/**
 * What `npm test` exported about this checkout (its package, its prefix, the running script) and
 * any loader flag stay out of child processes; npm's own settings (registry, cache) stay in.
 */
const NOT_INHERITED =
  /^(npm_lifecycle_|npm_package_|npm_command$|npm_execpath$|npm_node_execpath$|npm_config_local_prefix$|npm_config_call$|NODE_OPTIONS$|NODE_TEST|TSX)/i

/** Child processes get this Node first on PATH and the environment above. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!NOT_INHERITED.test(name)) env[name] = value
  }
  return {
    ...env,
    PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    ...extra,
  }
}

async function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<{ stdout: string; stderr: string; ms: number }> {
  const started = performance.now()
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      cwd: options.cwd,
      env: childEnv(options.env),
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 32 * 1024 * 1024,
    })
    return { stdout, stderr, ms: performance.now() - started }
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    throw new Error(
      `${command} ${args.join(' ')} failed in ${options.cwd}:\n${stderr ?? ''}\n${stdout ?? ''}`,
      { cause: error },
    )
  }
}

interface Running {
  output(): string
  /**
   * SIGTERM to the whole process group, then waits until every process of it is gone (SIGKILL
   * after 15 s). npm exec does not forward signals: with npx, the node process below it gets the
   * group's SIGTERM itself, once.
   */
  stop(): Promise<void>
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/** Starts a long-running command in its own process group and waits until stdout matches. */
async function start(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string>; ready: RegExp; timeoutMs?: number },
): Promise<Running & { readyMs: number; match: RegExpMatchArray }> {
  const started = performance.now()
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: childEnv(options.env),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const pgid = child.pid!
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  let stopped: Promise<void> | undefined
  const running: Running = {
    output: () => `${stdout}\n${stderr}`,
    stop: () =>
      (stopped ??= (async () => {
        const deadline = Date.now() + 15_000
        if (groupAlive(pgid)) process.kill(-pgid, 'SIGTERM')
        while (groupAlive(pgid) && Date.now() < deadline) await sleep(50)
        if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL')
      })()),
  }
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command} not ready:\n${running.output()}`)),
      options.timeoutMs ?? 60_000,
    )
    const check = () => {
      const found = options.ready.exec(stdout)
      if (found) {
        clearTimeout(timer)
        resolve(found)
      }
    }
    child.stdout!.on('data', check)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${command} exited (${code}) before ready:\n${running.output()}`))
    })
  }).catch(async (error: unknown) => {
    await running.stop()
    throw error
  })
  return { ...running, readyMs: performance.now() - started, match }
}

/** The files a clean clone would have: tracked and new files, not ignored ones, that exist. */
async function copyRepository(to: string): Promise<void> {
  const { stdout } = await run(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: REPO,
    },
  )
  for (const file of new Set(stdout.split('\0').filter(Boolean))) {
    const from = join(REPO, file)
    if (!existsSync(from)) continue // deleted in the working tree
    mkdirSync(dirname(join(to, file)), { recursive: true })
    cpSync(from, join(to, file))
  }
  // The build needs TypeScript and the type packages; they are this checkout's.
  symlinkSync(join(REPO, 'node_modules'), join(to, 'node_modules'), 'dir')
}

/** prebuild-install's local folder: the addon `npm ci` compiled here, named as a release asset. */
async function localPrebuilds(dir: string): Promise<string> {
  const addon = join(REPO, 'node_modules/better-sqlite3')
  const asset = `better-sqlite3-v${installedVersion('better-sqlite3')}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`
  mkdirSync(dir, { recursive: true })
  await run('tar', ['czf', join(dir, asset), 'build/Release/better_sqlite3.node'], { cwd: addon })
  return dir
}

interface PackResult {
  filename: string
  size: number
  unpackedSize: number
  entryCount: number
  files: Array<{ path: string }>
}

describe('onbehalf packed and installed in an empty project', { timeout: 480_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'onbehalf-pack-'))
  const source = join(work, 'onbehalf')
  const project = join(work, 'project')
  const running: Running[] = []
  let pack: PackResult

  before(async () => {
    await copyRepository(source)
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: source,
      timeoutMs: 240_000,
    })
    pack = (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as PackResult[])[0]!
    console.log(
      `# npm pack (clean build included): ${(packed.ms / 1000).toFixed(1)} s; ${pack.filename}: ` +
        `${(pack.size / 1024).toFixed(0)} kB packed, ${(pack.unpackedSize / 1024).toFixed(0)} kB ` +
        `unpacked, ${pack.entryCount} files`,
    )

    mkdirSync(project)
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    )
    const installed = await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        join(work, pack.filename),
        `typescript@${installedVersion('typescript')}`,
        `@types/node@${installedVersion('@types/node')}`,
      ],
      {
        cwd: project,
        env: {
          npm_config_better_sqlite3_local_prebuilds: await localPrebuilds(join(work, 'prebuilds')),
        },
        timeoutMs: 240_000,
      },
    )
    console.log(`# npm install of the tarball: ${(installed.ms / 1000).toFixed(1)} s`)
    // What a user copies from the README.
    cpSync(join(REPO, 'examples'), join(project, 'examples'), { recursive: true })
  })

  after(async () => {
    for (const service of running) await service.stop()
    rmSync(work, { recursive: true, force: true })
  })

  it('ships the build, the CLI, the default config and the deploy files, and nothing else', async () => {
    const paths = pack.files.map((file) => file.path)
    const allowed =
      /^(dist\/.+\.(js|js\.map|d\.ts|css)|bin\/onbehalf\.js|config\/[^/]+\.json|deploy\/.+|package\.json|README\.md)$/
    assert.deepEqual(
      paths.filter((path) => !allowed.test(path)),
      [],
    )
    for (const forbidden of [
      /^(src|test|bench|scripts|data|examples)\//,
      /(^|\/)\.env$/,
      /tsbuildinfo/,
      /keys?\.json$/,
    ]) {
      assert.deepEqual(
        paths.filter((path) => forbidden.test(path)),
        [],
        String(forbidden),
      )
    }
    // Every tracked default and deploy file is in it (the `files` patterns miss none).
    const { stdout } = await run('git', ['ls-files', 'config', 'deploy'], { cwd: REPO })
    const tracked = stdout.split('\n').filter((path) => path && existsSync(join(REPO, path)))
    assert.deepEqual(
      tracked.filter((path) => !paths.includes(path)),
      [],
    )
    // Every entry point and its declarations, and the stylesheet the apps serve.
    for (const target of Object.values(repoPackage.exports)) {
      for (const file of typeof target === 'string' ? [target] : [target.types, target.default]) {
        assert.ok(paths.includes(file.replace(/^\.\//, '')), `${file} is shipped`)
      }
    }
    assert.ok(paths.includes('dist/web/assets/style.css'))
    // No development tool came along.
    assert.equal(existsSync(join(project, 'node_modules/tsx')), false, 'tsx is not installed')
  })

  it('imports (and requires) each entry point with plain node, and the resource kit loads no Fastify', async () => {
    const script = `
      import { createRequire } from 'node:module'
      const require = createRequire(import.meta.url)
      const loaded = () => Object.keys(require.cache).filter((file) => file.includes('/node_modules/fastify'))
      const resource = await import('onbehalf/resource')
      const afterResource = loaded()
      const entries = { resource, fastify: await import('onbehalf/resource/fastify'),
        client: await import('onbehalf/client'), exchange: await import('onbehalf/exchange'),
        sts: await import('onbehalf/sts') }
      console.log(JSON.stringify({
        resolved: import.meta.resolve('onbehalf/resource'),
        afterResource, afterFastify: loaded(),
        exports: Object.fromEntries(Object.entries(entries).map(([name, m]) => [name, Object.keys(m).sort()])),
        verifierIsFunction: typeof resource.createAccessTokenVerifier({ issuer: 'https://i.example', audience: 'a', jwksUri: 'https://i.example/jwks' }),
      }))`
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: project,
    })
    const result = JSON.parse(stdout) as {
      resolved: string
      afterResource: string[]
      afterFastify: string[]
      exports: Record<string, string[]>
      verifierIsFunction: string
    }
    assert.equal(
      fileURLToPath(result.resolved),
      join(project, 'node_modules/onbehalf/dist/resource/index.js'),
    )
    assert.deepEqual(result.afterResource, [], 'onbehalf/resource loads no Fastify module')
    assert.ok(result.afterFastify.some((file) => file.includes('fastify-plugin')))
    assert.equal(result.verifierIsFunction, 'function')
    const expected: Record<string, string[]> = {
      resource: [
        'createAccessTokenVerifier',
        'createBearerAuthenticator',
        'bearerErrorResponse',
        'createIdentityPolicy',
        'createTrustedIssuersVerifier',
        'ResourceAuthError',
      ],
      fastify: ['bearerAuth', 'requireBearer', 'sendAuthError'],
      client: ['createTokenExchangeClient', 'ExchangedTokenCache', 'TokenExchangeError'],
      exchange: [
        'createTokenExchange',
        'createExchangePolicy',
        'createClientAuthenticator',
        'createJwsVerifier',
        'createJwsSigner',
        'createJwsMinter',
        'OAuthError',
        'toErrorResponse',
      ],
      sts: ['startSts', 'buildSts', 'readStsConfigFile', 'parseStsConfig', 'ConfigError'],
    }
    for (const [entry, names] of Object.entries(expected)) {
      for (const name of names)
        assert.ok(result.exports[entry]!.includes(name), `${entry}: ${name}`)
    }

    // CommonJS callers too: Node 20.19+ requires ES modules without top-level await.
    const required = await run(
      process.execPath,
      [
        '-e',
        `console.log(JSON.stringify(['resource', 'resource/fastify', 'client', 'exchange', 'sts']
          .map((entry) => Object.keys(require('onbehalf/' + entry)).length)))`,
      ],
      { cwd: project },
    )
    assert.deepEqual(
      JSON.parse(required.stdout),
      ['resource', 'fastify', 'client', 'exchange', 'sts'].map(
        (entry) => result.exports[entry]!.length,
      ),
    )
  })

  it('type-checks a consumer and the README examples against the shipped declarations', async () => {
    cpSync(join(REPO, 'test/package/consumer/index.ts'), join(project, 'consumer.ts'))
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          // The shipped declarations are checked too, with everything they import.
          skipLibCheck: false,
          allowJs: true,
          checkJs: true,
          types: ['node'],
        },
        include: ['consumer.ts', 'examples'],
      }),
    )
    const tsc = join(project, 'node_modules/typescript/bin/tsc')
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project })
  })

  it('npx onbehalf works from the project: --version, start --help with the package defaults', async () => {
    const version = await run('npx', ['onbehalf', '--version'], { cwd: project })
    assert.equal(version.stdout.trim(), repoPackage.version)
    const help = await run('npx', ['onbehalf', 'start', '--help'], { cwd: project })
    for (const service of ['IdP', 'STS', 'App A', 'App B', 'App C']) {
      assert.match(help.stdout, new RegExp(`^  ${service} `, 'm'))
    }
    const installedAt = join(project, 'node_modules/onbehalf')
    assert.ok(help.stdout.includes(`POLICY_FILE  `), help.stdout)
    assert.ok(help.stdout.includes(join(installedAt, 'config/policy.json')), help.stdout)
    assert.ok(help.stdout.includes(join(installedAt, 'deploy/sts/embedded.json')), help.stdout)
    assert.ok(help.stdout.includes(join(project, 'data')), help.stdout)
  })

  it('npx onbehalf start serves App A and the IdP; the examples exchange and accept only delegated tokens', async () => {
    const ports = {
      IDP_PORT: await freePort(),
      APP_A_PORT: await freePort(),
      APP_B_PORT: await freePort(),
      APP_C_PORT: await freePort(),
      STS_PORT: await freePort(),
    }
    const url = (port: number) => `http://127.0.0.1:${port}`
    const issuer = url(ports.IDP_PORT)
    const stack = await start('npx', ['onbehalf', 'start'], {
      cwd: project,
      env: {
        LOG_LEVEL: 'info',
        IDP_ISSUER: issuer,
        APP_A_URL: url(ports.APP_A_PORT),
        APP_B_URL: url(ports.APP_B_PORT),
        APP_C_URL: url(ports.APP_C_PORT),
        STS_ISSUER: url(ports.STS_PORT),
        ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      },
      ready: /onbehalf is running/,
    })
    running.push(stack)
    console.log(`# npx onbehalf start: ready in ${(stack.readyMs / 1000).toFixed(1)} s`)

    const discovery = await fetch(`${issuer}/.well-known/openid-configuration`)
    assert.equal(discovery.status, 200)
    assert.equal(((await discovery.json()) as { issuer: string }).issuer, issuer)
    const home = await fetch(url(ports.APP_A_PORT), { redirect: 'manual' })
    assert.ok(home.status < 400, `App A answers ${home.status}`)
    const stylesheet = await fetch(`${url(ports.APP_A_PORT)}/assets/style.css`)
    assert.equal(stylesheet.status, 200)
    assert.match(stylesheet.headers.get('content-type') ?? '', /text\/css/)
    // Data in ./data of the working directory, never inside the installed package.
    assert.ok(existsSync(join(project, 'data')), 'data/ in the project')
    assert.equal(existsSync(join(project, 'node_modules/onbehalf/data')), false)

    const resource = await start(process.execPath, ['examples/resource_server.js'], {
      cwd: project,
      env: { ISSUER: issuer, PORT: '0' },
      ready: /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    })
    running.push(resource)
    const serviceUrl = resource.match[1]!

    const user = await signInWithLoginForm({
      authorizationEndpoint: `${issuer}/auth`,
      tokenEndpoint: `${issuer}/token`,
      clientId: 'app-a',
      clientSecret: DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET,
      redirectUri: `${url(ports.APP_A_PORT)}/auth/callback`,
      scope: 'openid todos:read',
      username: 'demo',
      password: 'changeme',
    })
    const { stdout } = await run(process.execPath, ['examples/client.js'], {
      cwd: project,
      env: {
        ISSUER: issuer,
        SUBJECT_TOKEN: user.access_token,
        CLIENT_SECRET: DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET,
        SERVICE_URL: serviceUrl,
      },
    })
    const calls = stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            call: number
            fromCache: boolean
            status: number
            body: { user?: string; actors?: string[] }
          },
      )
    const userSub = JSON.parse(
      Buffer.from(user.access_token.split('.')[1]!, 'base64url').toString(),
    ).sub
    assert.deepEqual(calls, [
      { call: 1, fromCache: false, status: 200, body: { user: userSub, actors: ['app-a'] } },
      { call: 2, fromCache: true, status: 200, body: { user: userSub, actors: ['app-a'] } },
    ])

    // The user's own token (aud app-a) and App A's service token (aud app-b, no act) are refused.
    const ownToken = await fetch(serviceUrl, {
      headers: { authorization: `Bearer ${user.access_token}` },
    })
    assert.equal(ownToken.status, 401)
    assert.equal(((await ownToken.json()) as { error: string }).error, 'invalid_token')
    const serviceToken = (await (
      await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`app-a:${DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'todos:read' }),
      })
    ).json()) as { access_token: string }
    const m2m = await fetch(serviceUrl, {
      headers: { authorization: `Bearer ${serviceToken.access_token}` },
    })
    assert.equal(m2m.status, 403)
    assert.equal(((await m2m.json()) as { error: string }).error, 'insufficient_scope')

    await resource.stop()
    await stack.stop()
    // Stopped by its own SIGTERM handler (closing every server), not killed.
    assert.match(stack.output(), /"signal":"SIGTERM".*"msg":"stopping"/)
    await assert.rejects(fetch(`${issuer}/.well-known/openid-configuration`), 'the IdP is stopped')
  })
})
