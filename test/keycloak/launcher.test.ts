/**
 * `onbehalf keycloak up|down|status` without starting Keycloak: the refusals a user meets first
 * (a port in use, Maven or Java missing, bad settings) and the answers when nothing runs. The
 * launcher starting a real Keycloak is what .ci/run does before the live tests.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runKeycloakCommand } from '../../src/cli/keycloak.js'
import { keycloakVersion, loadLauncherSettings } from '../../src/keycloak/launcher/index.js'

const listenOnZero = () =>
  new Promise<{ server: Server; port: number }>((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 })
    })
  })

describe('onbehalf keycloak (no Keycloak started)', () => {
  let home: string
  before(() => {
    home = mkdtempSync(join(tmpdir(), 'onbehalf-keycloak-'))
  })
  after(() => rmSync(home, { recursive: true, force: true }))

  const run = async (argv: string[], env: Record<string, string> = {}) => {
    const lines: string[] = []
    const code = await runKeycloakCommand(argv, {
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
      env: { KEYCLOAK_HOME: home, ...env },
    })
    return { code, text: lines.join('\n') }
  }

  it('WhenThePortIsInUseThenUpRefusesNamingThePortAndTheVariableAndStartsNothing', async () => {
    const { server, port } = await listenOnZero()
    try {
      const { code, text } = await run(['up'], { KEYCLOAK_PORT: String(port) })
      assert.equal(code, 1)
      assert.match(text, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use: .*KEYCLOAK_PORT`))
      assert.doesNotMatch(text, /fetching|starting/)
    } finally {
      server.close()
    }
  })

  it('WhenNothingRunsThenStatusSaysSoWithExit1AndDownIsANoOp', async () => {
    const status = await run(['status'])
    assert.equal(status.code, 1)
    assert.match(status.text, /not running \(onbehalf keycloak up starts it\)/)
    const down = await run(['down'])
    assert.equal(down.code, 0)
    assert.match(down.text, /was not running/)
  })

  it('WhenTheManagementPortEqualsTheHttpPortThenTheSettingIsRefusedByName', async () => {
    const { code, text } = await run(['status'], {
      KEYCLOAK_PORT: '8080',
      KEYCLOAK_MANAGEMENT_PORT: '8080',
    })
    assert.equal(code, 1)
    assert.match(text, /KEYCLOAK_MANAGEMENT_PORT: must differ from KEYCLOAK_PORT/)
  })

  it('WhenTheActionIsUnknownThenItIsAUsageError', async () => {
    const { code, text } = await run(['start'])
    assert.equal(code, 2)
    assert.match(text, /usage: onbehalf keycloak up \[--detach\] \| down \| status/)
  })

  it('WhenLeftAtTheDefaultsThenItListensOn127001Port8080WithManagementOff9000AndTheVersionFile', () => {
    const settings = loadLauncherSettings({ KEYCLOAK_HOME: home })
    assert.equal(settings.host, '127.0.0.1')
    assert.equal(settings.port, 8080)
    assert.notEqual(settings.managementPort, 9000, "9000 is the embedded IdP's port")
    assert.equal(settings.version, keycloakVersion())
    assert.match(settings.version, /^26\.\d+\.\d+$/)
  })

  it('WhenJavaAndMavenAreNotOnThePathThenUpSaysWhatToInstallAndPointsToTheComposeFile', async () => {
    // A PATH holding only node (and bash for completeness): no java, no mvn.
    const bin = join(home, 'bin')
    mkdirSync(bin)
    symlinkSync(process.execPath, join(bin, 'node'))
    // Two ports the system just handed out, both held until both are known (port + 1 may be any
    // connection's local port on a busy machine, and the launcher checks both before Java).
    const held = [await listenOnZero(), await listenOnZero()]
    for (const { server } of held) server.close()
    const [port, managementPort] = held.map(({ port }) => port)
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'keycloak', 'up'],
      {
        env: {
          PATH: bin,
          KEYCLOAK_HOME: join(home, 'kc'),
          KEYCLOAK_PORT: String(port),
          KEYCLOAK_MANAGEMENT_PORT: String(managementPort),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    assert.equal(code, 1, output)
    assert.match(
      output,
      /java not found: install Maven and a JDK 17\+ \(Debian\/Ubuntu: apt-get install maven default-jdk-headless/,
    )
    assert.match(output, /docker compose -f deploy\/keycloak\/docker-compose\.keycloak\.yml up -d/)
    assert.doesNotMatch(output, /starting Keycloak/)
  })
})
