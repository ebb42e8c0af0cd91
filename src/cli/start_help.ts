/**
 * `onbehalf start --help`, `onbehalf idp --help` and `onbehalf app-b --help`: what each command starts, where, and the
 * variables that change it, with the defaults this installation resolves (the package's own
 * config files, `./data` of the working directory). Light on purpose: it loads no server code.
 */
import { resolve } from 'node:path'
import { loadEnv, type Env } from '../config/env.js'
import { packageFile } from '../config/package_files.js'

interface Service {
  readonly name: string
  readonly what: string
  readonly url: keyof Env
  readonly port: keyof Env
  readonly more?: readonly (keyof Env)[]
}

const IDP: Service = {
  name: 'IdP',
  what: 'the embedded OpenID Provider (off when IDP is not embedded)',
  url: 'IDP_ISSUER',
  port: 'IDP_PORT',
}

const APP_B: Service = {
  name: 'App B',
  what: 'the todo service App A calls for the user',
  url: 'APP_B_URL',
  port: 'APP_B_PORT',
}

const STACK: readonly Service[] = [
  IDP,
  {
    name: 'STS',
    what: 'the onbehalf token service: RFC 8693 beside an IdP that lacks it',
    url: 'STS_ISSUER',
    port: 'STS_PORT',
    more: ['STS_CONFIG'],
  },
  {
    name: 'App A',
    what: 'the web app that acts for the user (start here)',
    url: 'APP_A_URL',
    port: 'APP_A_PORT',
  },
  APP_B,
  {
    name: 'App C',
    what: 'the activity API App B calls (third hop)',
    url: 'APP_C_URL',
    port: 'APP_C_PORT',
  },
]

const SETTINGS: readonly { readonly name: keyof Env | 'IDP'; readonly what: string }[] = [
  { name: 'HOST', what: 'interface every server listens on' },
  { name: 'DATA_DIR', what: 'keys and databases, created on first start' },
  { name: 'POLICY_FILE', what: 'clients, audiences, scopes, lifetimes' },
  { name: 'USERS_FILE', what: 'seed users' },
  { name: 'IDP', what: 'embedded | keycloak | authentik | generic: the IdP the apps use' },
  { name: 'NODE_ENV', what: 'production refuses the development secrets' },
  { name: 'LOG_LEVEL', what: 'pino level; logs go to stdout as JSON' },
]

function show(defaults: Env, name: keyof Env | 'IDP'): string {
  if (name === 'IDP') return defaults.idp.kind
  const value = String(defaults[name])
  // Relative paths are taken from the working directory: say where that is.
  return name === 'DATA_DIR' ? `${value} → ${resolve(value)}` : value
}

function usage(command: 'start' | 'idp' | 'app-b', services: readonly Service[]): string {
  const defaults = loadEnv({})
  const lines = [
    `usage: onbehalf ${command}`,
    '',
    `Starts, on ${defaults.HOST} until Ctrl-C or SIGTERM (defaults shown):`,
  ]
  for (const service of services) {
    lines.push(`  ${service.name.padEnd(6)} ${service.what}`)
    lines.push(
      `         ${service.url}=${show(defaults, service.url)}  ${service.port}=${show(defaults, service.port)}`,
    )
    for (const name of service.more ?? []) lines.push(`         ${name}=${show(defaults, name)}`)
  }
  lines.push('', 'Also read:')
  for (const { name, what } of SETTINGS) {
    if (command !== 'start' && name === 'IDP') continue
    lines.push(`  ${name.padEnd(12)} ${what} [${show(defaults, name)}]`)
  }
  lines.push(
    '',
    'Variables come from the environment and from ./.env (the environment wins); relative paths',
    'are resolved from the working directory. Secrets (APP_A_CLIENT_SECRET, …) fall back to',
    'development values outside production. Every variable: the Configuration section of',
    packageFile('README.md'),
  )
  return lines.join('\n')
}

export function startUsage(): string {
  return usage('start', STACK)
}

export function appBUsage(): string {
  return usage('app-b', [APP_B])
}

export function idpUsage(): string {
  return usage('idp', [IDP])
}
