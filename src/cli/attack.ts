/**
 * `onbehalf attack`: runs the attack lab (src/attack) against a running stack and prints the
 * attempts, the blast radius and the comparison matrix.
 *
 *   onbehalf attack [--markdown | --json] [--verbose]
 *                   [--issuer URL] [--app-b URL] [--app-a URL]
 *                   [--attacker bob] [--password changeme] [--victim alice]
 *
 * Defaults come from the environment (.env): IDP_ISSUER, APP_B_URL, APP_A_URL, APP_A_CLIENT_ID,
 * APP_A_CLIENT_SECRET, ATTACK_ATTACKER, ATTACK_ATTACKER_PASSWORD, ATTACK_VICTIM and
 * ATTACK_VICTIM_SUB (unset: the victim's sub is looked up in the embedded IdP's USERS_FILE). Exit
 * code 0 when the run completed, 1 when it could not (stack not running, login refused), 2 for
 * usage errors; an unknown victim is a configuration error (`ConfigError`, exit 78 from main).
 */
import { parseArgs } from 'node:util'
import { loadDotEnv, loadEnv } from '../config/env.js'
import { loadUserDirectory } from '../idp/users.js'
import {
  attackLabConfigFrom,
  formatJson,
  formatMarkdown,
  formatText,
  runAttackLab,
} from '../attack/index.js'

export const ATTACK_USAGE = `usage: onbehalf attack [--markdown | --json] [--verbose] [--issuer URL] [--app-a URL]
                       [--app-b URL] [--attacker NAME] [--password PASSWORD] [--victim NAME]

Plays a compromised App A (its client secret plus the attacker's own login) against the running
stack (npm start) and tries to read the victim's todos in App B through every path.`

export async function runAttackCommand(argv: readonly string[]): Promise<number> {
  let values: ReturnType<typeof parse>['values']
  function parse() {
    return parseArgs({
      args: [...argv],
      options: {
        markdown: { type: 'boolean' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        issuer: { type: 'string' },
        'app-a': { type: 'string' },
        'app-b': { type: 'string' },
        attacker: { type: 'string' },
        password: { type: 'string' },
        victim: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    })
  }
  try {
    ;({ values } = parse())
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${ATTACK_USAGE}`)
    return 2
  }
  if (values.help) {
    console.log(ATTACK_USAGE)
    return 0
  }
  if (values.markdown && values.json) {
    console.error(`--markdown and --json exclude each other\n\n${ATTACK_USAGE}`)
    return 2
  }
  loadDotEnv()
  const env = loadEnv()
  const config = attackLabConfigFrom(
    env,
    {
      ...(values.issuer ? { issuer: values.issuer } : {}),
      ...(values['app-a'] ? { appAUrl: values['app-a'] } : {}),
      ...(values['app-b'] ? { appBUrl: values['app-b'] } : {}),
      ...(values.attacker ? { attacker: values.attacker } : {}),
      ...(values.password ? { password: values.password } : {}),
      ...(values.victim ? { victim: values.victim } : {}),
    },
    (username) => loadUserDirectory(env.USERS_FILE).findByUsername(username)?.sub,
  )
  let report
  try {
    report = await runAttackLab(config)
  } catch (error) {
    console.error(
      `attack lab could not run against ${config.issuer} (is the stack running? npm start): ${(error as Error).message}`,
    )
    return 1
  }
  console.log(
    values.json
      ? formatJson(report)
      : values.markdown
        ? formatMarkdown(report)
        : formatText(report, { verbose: values.verbose === true }),
  )
  return 0
}
