/**
 * Launchers: `onbehalf start` runs the IdP, App A, App B and App C on 127.0.0.1 (ports from the
 * environment), prints where to go and how to sign in, and stops cleanly on Ctrl-C / SIGTERM.
 */
import { configVariables, loadDotEnv, loadEnv, type Env } from '../config/env.js'
import { createLogger, type Logger } from '../log/logger.js'
import { buildIdp } from '../idp/app.js'
import { loadUserDirectory } from '../idp/users.js'
import { idpProfile, issuerForClient } from '../idp_profiles/index.js'
import { buildAppA } from '../apps/app-a/app.js'
import { buildAppB } from '../apps/app-b/app.js'
import { buildAppC } from '../apps/app-c/app.js'
import { buildStsWithSharedState } from './sts_shared_state.js'
import { readStsConfigFile } from '../sts/config.js'
import { listenAll, stopOnSignal } from './listen.js'

function setup(): { env: Env; logger: Logger } {
  loadDotEnv()
  const env = loadEnv()
  const logger = createLogger({ level: env.LOG_LEVEL, name: 'onbehalf' })
  if (env.developmentSecrets.length > 0) {
    logger.warn(
      { variables: env.developmentSecrets },
      'using development secrets; set them in .env before exposing this anywhere',
    )
  }
  if (Number(process.versions.node.split('.')[0]) < 22) {
    logger.warn(
      'Node.js %s: oidc-provider 9 supports Node.js 22+; it works on 20.19+, which onbehalf tests',
      process.versions.node,
    )
  }
  return { env, logger }
}

export async function runStack(): Promise<void> {
  const { env, logger } = setup()
  const running = await listenAll(
    [
      // With IDP=keycloak|authentik|generic the apps use that IdP and the embedded one stays off.
      ...(env.idp.kind === 'embedded'
        ? [
            {
              name: 'idp',
              port: env.IDP_PORT,
              build: async () => (await buildIdp({ env, logger })).app,
            },
          ]
        : []),
      {
        name: 'sts',
        port: env.STS_PORT,
        build: () =>
          buildStsWithSharedState(readStsConfigFile(env.STS_CONFIG, configVariables(env)), {
            env,
            logger,
          }),
      },
      { name: 'app-c', port: env.APP_C_PORT, build: () => buildAppC({ env, logger }) },
      { name: 'app-b', port: env.APP_B_PORT, build: () => buildAppB({ env, logger }) },
      {
        name: 'app-a',
        port: env.APP_A_PORT,
        build: () =>
          buildAppA({
            env,
            logger,
            // The attack lab's victim is one of the embedded IdP's users (ATTACK_VICTIM_SUB wins).
            ...(env.idp.kind === 'embedded'
              ? {
                  findUserSub: (username: string) =>
                    loadUserDirectory(env.USERS_FILE).findByUsername(username)?.sub,
                }
              : {}),
          }),
      },
    ],
    env.HOST,
    logger,
  )
  process.stdout.write(`
  onbehalf is running

    App A (start here)   ${env.APP_A_URL}
    App B                ${env.APP_B_URL}
    App C (activity API) ${env.APP_C_URL}
    Identity provider    ${issuerForClient(env.idp, env.APP_A_CLIENT_ID)}  (${idpProfile(env.idp.kind).label})
    onbehalf STS         ${env.STS_ISSUER}   (RFC 8693 for IdPs that lack it)

  Sign in as demo, alice or bob — password: changeme
  Delegate to the Assistant (App D), in another terminal:
    npx onbehalf agent login      then   npx onbehalf agent run --every 30s
  Your delegations: ${issuerForClient(env.idp, env.APP_A_CLIENT_ID)}/account/delegations
  Press Ctrl-C to stop.

`)
  await stopOnSignal(running, logger)
}

export async function runIdpOnly(): Promise<void> {
  const { env, logger } = setup()
  const running = await listenAll(
    [{ name: 'idp', port: env.IDP_PORT, build: async () => (await buildIdp({ env, logger })).app }],
    env.HOST,
    logger,
  )
  process.stdout.write(
    `\n  onbehalf IdP: ${env.IDP_ISSUER} (discovery: ${env.IDP_ISSUER}/.well-known/openid-configuration)\n\n`,
  )
  await stopOnSignal(running, logger)
}

/** App B alone: one of several instances behind a load balancer when DATABASE_URL is set. */
export async function runAppBOnly(): Promise<void> {
  const { env, logger } = setup()
  const running = await listenAll(
    [{ name: 'app-b', port: env.APP_B_PORT, build: () => buildAppB({ env, logger }) }],
    env.HOST,
    logger,
  )
  process.stdout.write(`\n  onbehalf App B: ${env.APP_B_URL} (service API: /api/todos)\n\n`)
  await stopOnSignal(running, logger)
}
