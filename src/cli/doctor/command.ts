/**
 * `onbehalf doctor …` on the command line: options from the arguments and the environment, the
 * report as text or JSON, the exit code (1 when a required check fails, 2 on usage errors).
 */
import { parseArgs } from 'node:util'
import { DEVELOPMENT_SECRETS } from '../../config/env.js'
import { loadIdpSettings } from '../../config/idp_settings.js'
import { IDP_KINDS, idpProfile, type IdpSettings } from '../../idp_profiles/index.js'
import { formatReport } from './format.js'
import { runDoctor } from './run.js'
import type { DoctorOptions } from './types.js'

const USAGE = `usage: onbehalf doctor [--idp embedded|keycloak|authentik|generic] [--issuer URL]
                      [--client-id ID --client-secret SECRET] [--audience app-b] [--scope todos:read]
                      [--username NAME --password PW | --subject-token TOKEN] [--redirect-uri URL]
                      [--authentik-version 2026.5] [--json]

Defaults come from the environment (IDP, IDP_ISSUER, KEYCLOAK_URL, KEYCLOAK_REALM, AUTHENTIK_URL,
AUTHENTIK_VERSION, APP_A_CLIENT_SECRET, APP_A_URL). With --issuer and no --idp the IdP is "generic".`

export interface DoctorIo {
  out: (text: string) => void
  err: (text: string) => void
  env?: NodeJS.ProcessEnv
  fetch?: typeof fetch
}

const defaultIo: DoctorIo = { out: (text) => console.log(text), err: (text) => console.error(text) }

/** Parses the command line into `DoctorOptions` (environment for what is not given). */
export function doctorOptionsFrom(
  argv: string[],
  env: NodeJS.ProcessEnv,
): DoctorOptions & { json: boolean; help: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      idp: { type: 'string' },
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      audience: { type: 'string' },
      scope: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      'subject-token': { type: 'string' },
      'redirect-uri': { type: 'string' },
      'authentik-version': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const idp = values.idp ?? (values.issuer ? 'generic' : (env.IDP ?? 'embedded'))
  if (!(IDP_KINDS as readonly string[]).includes(idp))
    throw new TypeError(`--idp must be one of ${IDP_KINDS.join(', ')}`)
  const settings: IdpSettings = loadIdpSettings({
    ...env,
    IDP: idp,
    IDP_ISSUER: values.issuer ?? env.IDP_ISSUER,
    AUTHENTIK_VERSION: values['authentik-version'] ?? env.AUTHENTIK_VERSION,
  })
  const clientId = values['client-id'] ?? env.APP_A_CLIENT_ID ?? 'app-a'
  const appAUrl = (env.APP_A_URL ?? 'http://localhost:3993').replace(/\/+$/, '')
  const issuer = values.issuer ?? idpProfile(settings.kind).issuerFor(settings, clientId)
  return {
    idp: settings.kind,
    issuer: settings.kind === 'authentik' ? issuer : issuer.replace(/\/+$/, ''),
    strategies: settings.strategies,
    clientId,
    clientSecret:
      values['client-secret'] ??
      env.APP_A_CLIENT_SECRET ??
      (clientId === 'app-a' ? DEVELOPMENT_SECRETS.APP_A_CLIENT_SECRET : ''),
    audience: values.audience ?? env.APP_B_CLIENT_ID ?? 'app-b',
    scope: values.scope ?? 'todos:read',
    redirectUri: values['redirect-uri'] ?? `${appAUrl}/auth/callback`,
    username: values.username,
    password: values.password,
    subjectToken: values['subject-token'],
    json: values.json === true,
    help: values.help === true,
  }
}

/** `onbehalf doctor …`; returns the exit code. */
export async function runDoctorCommand(argv: string[], io: DoctorIo = defaultIo): Promise<number> {
  let options: ReturnType<typeof doctorOptionsFrom>
  try {
    options = doctorOptionsFrom(argv, io.env ?? process.env)
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (options.help) {
    io.out(USAGE)
    return 0
  }
  const report = await runDoctor({ ...options, fetch: io.fetch })
  io.out(options.json ? JSON.stringify(report, null, 2) : formatReport(report))
  return report.ok ? 0 : 1
}
