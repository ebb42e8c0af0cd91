/**
 * `onbehalf agent …`: App D, the Assistant (src/apps/app-d/agent.ts), against a running stack
 * (`npm start`). Tokens are never printed; the state file (the user's refresh token) is 0600 in
 * APP_D_STATE_DIR (default DATA_DIR/app-d).
 *
 *   onbehalf agent login              device flow: prints a URL and a code, waits for your consent
 *   onbehalf agent add "text"         adds a todo for you in App B (marked "added by Assistant")
 *   onbehalf agent complete <id>      completes one of your todos
 *   onbehalf agent list               your todos, as the agent sees them
 *   onbehalf agent run --every 30s [--task "text"] [--rounds N]
 *                                     every interval: completes todos titled "@assistant …", adds
 *                                     --task unless it is open; stops on Ctrl-C or after N rounds
 *   onbehalf agent status             who the agent acts for, and what App B sees (sub, act)
 *   onbehalf agent logout             forgets the refresh token (revoke at IdP /account/delegations)
 */
import { join, resolve } from 'node:path'
import { loadDotEnv, loadEnv, type Env } from '../config/env.js'
import { issuerForClient } from '../idp_profiles/index.js'
import { AgentError, createAgent, runAgentRound, type Agent } from '../apps/app-d/agent.js'

export const AGENT_USAGE = `usage: onbehalf agent <command>

commands (against a running stack, \`npm start\`):
  login                 sign the Assistant in for you (device flow): open the URL it prints,
                        sign in at the IdP and allow the delegation
  add "text"            add a todo in App B for you ("added by Assistant on your behalf")
  complete <id>         complete one of your todos ("completed by Assistant")
  list                  your todos as the Assistant sees them
  run --every 30s [--task "text"] [--rounds N]
                        on a schedule: complete todos titled "@assistant …", add --task unless
                        it is open; until Ctrl-C (or N rounds)
  status                whom the Assistant acts for, and the claims App B sees (sub, act)
  logout                forget the refresh token (revoke the delegation itself at the IdP:
                        /account/delegations)

variables: APP_D_CLIENT_ID, APP_D_CLIENT_SECRET, APP_D_STATE_DIR (default DATA_DIR/app-d),
IDP_ISSUER, APP_B_URL, APP_B_CLIENT_ID`

/** `30s`, `5m`, `1h` or plain seconds → milliseconds; undefined when malformed or below 1 s. */
export function parseInterval(text: string | undefined): number | undefined {
  const match = /^([1-9][0-9]{0,5})(s|m|h)?$/.exec(text ?? '')
  if (!match) return undefined
  const unit = match[2] === 'h' ? 3_600_000 : match[2] === 'm' ? 60_000 : 1000
  return Number(match[1]) * unit
}

export function agentFor(env: Env, fetchImpl?: typeof fetch): Agent {
  return createAgent({
    issuer: issuerForClient(env.idp, env.APP_D_CLIENT_ID),
    clientId: env.APP_D_CLIENT_ID,
    clientSecret: env.APP_D_CLIENT_SECRET,
    appBUrl: env.APP_B_URL,
    appBAudience: env.APP_B_CLIENT_ID,
    stateDir: resolve(env.APP_D_STATE_DIR ?? join(env.DATA_DIR, 'app-d')),
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  })
}

function option(args: readonly string[], name: string): string | undefined {
  const at = args.indexOf(name)
  return at === -1 ? undefined : args[at + 1]
}

function describeTodo(todo: {
  id: number
  title: string
  completed: boolean
  addedBy: string | null
  completedBy: string | null
}) {
  const marks = [
    ...(todo.addedBy ? [`added by ${todo.addedBy}`] : []),
    ...(todo.completedBy ? [`completed by ${todo.completedBy}`] : []),
  ]
  return `#${todo.id} [${todo.completed ? 'x' : ' '}] ${todo.title}${marks.length ? `  (${marks.join(', ')})` : ''}`
}

async function run(agent: Agent, command: string, args: readonly string[]): Promise<number> {
  switch (command) {
    case 'login': {
      const login = await agent.startLogin()
      console.log(
        `To let the Assistant act for you, open\n\n  ${login.verificationUriComplete}\n\n` +
          `(or ${login.verificationUri} and enter the code ${login.userCode}), sign in and allow.\n` +
          'Waiting…',
      )
      const controller = new AbortController()
      const stop = () => controller.abort()
      process.once('SIGINT', stop)
      try {
        const state = await agent.completeLogin(login, { signal: controller.signal })
        console.log(`Signed in: the Assistant acts for ${state.sub}. State: ${agent.state.file}`)
      } finally {
        process.off('SIGINT', stop)
      }
      return 0
    }
    case 'add': {
      const title = args.join(' ').trim()
      if (!title) break
      const { value } = await agent.addTodo(title)
      console.log(`added ${describeTodo(value)}`)
      return 0
    }
    case 'complete': {
      const id = Number(args[0])
      if (args.length !== 1 || !Number.isSafeInteger(id) || id < 1) break
      const { value } = await agent.completeTodo(id)
      console.log(`completed ${describeTodo(value)}`)
      return 0
    }
    case 'list': {
      const { value } = await agent.listTodos()
      for (const todo of value) console.log(describeTodo(todo))
      if (value.length === 0) console.log('(no todos)')
      return 0
    }
    case 'status': {
      const state = agent.state.read()
      if (!state) {
        console.log('not signed in: run `onbehalf agent login`')
        return 1
      }
      const { token, value } = await agent.listTodos()
      console.log(
        JSON.stringify(
          {
            actsFor: state.sub,
            since: new Date(state.since * 1000).toISOString(),
            appBSees: token,
            todos: value.length,
          },
          null,
          2,
        ),
      )
      return 0
    }
    case 'run': {
      const every = parseInterval(option(args, '--every'))
      const roundsText = option(args, '--rounds')
      const rounds = roundsText === undefined ? Infinity : Number(roundsText)
      if (every === undefined || !(rounds >= 1)) break
      const task = option(args, '--task')
      let stopped = false
      let wake: (() => void) | undefined
      const stop = () => {
        stopped = true
        wake?.()
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      try {
        for (let round = 1; !stopped && round <= rounds; round++) {
          try {
            const done = await runAgentRound(agent, task === undefined ? {} : { task })
            for (const todo of done.completed) console.log(`completed ${describeTodo(todo)}`)
            for (const todo of done.added) console.log(`added ${describeTodo(todo)}`)
            if (done.added.length + done.completed.length === 0) console.log('nothing to do')
          } catch (error) {
            // The delegation is gone: nothing more to do until the user delegates again.
            if (
              error instanceof AgentError &&
              ['delegation_ended', 'not_signed_in'].includes(error.reason)
            )
              throw error
            console.error(`round ${round} failed: ${(error as Error).message}`)
          }
          if (round < rounds && !stopped) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, every)
              wake = () => {
                clearTimeout(timer)
                resolve()
              }
            })
          }
        }
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
      return 0
    }
    case 'logout':
      agent.logout()
      console.log(
        'forgot the refresh token; revoke the delegation at the IdP: /account/delegations',
      )
      return 0
  }
  console.error(AGENT_USAGE)
  return 2
}

export async function runAgentCommand(argv: readonly string[]): Promise<number> {
  const [command, ...args] = argv
  if (!command || command === '--help' || command === '-h') {
    console.log(AGENT_USAGE)
    return command ? 0 : 2
  }
  loadDotEnv()
  const agent = agentFor(loadEnv())
  try {
    return await run(agent, command, args)
  } catch (error) {
    if (error instanceof AgentError) {
      console.error(`onbehalf agent ${command}: ${error.message}`)
      return 1
    }
    throw error
  }
}
