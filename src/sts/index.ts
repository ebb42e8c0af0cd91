/**
 * `onbehalf/sts`: the onbehalf security token service — an RFC 8693 token endpoint for identity
 * providers that lack one. It trusts the access tokens of configured upstream issuers (their
 * discovery and JWKS) and issues RFC 9068 tokens under its own issuer and keys, with the same
 * engine and rules as the embedded IdP. The configuration format is that of deploy/sts/*.json.
 *
 * @example
 * ```ts
 * import { startSts } from 'onbehalf/sts'
 *
 * const sts = await startSts('sts.json', { port: 9100 })
 * // POST ${sts.url}/token  GET ${sts.url}/jwks  GET ${sts.url}/.well-known/oauth-authorization-server
 * ```
 *
 * @module
 */
export { startSts, type RunningSts, type StartStsOptions } from './start_sts.js'
export { buildSts, type StsOptions } from './app.js'
export {
  parseStsConfig,
  readStsConfigFile,
  type ConfigVariables,
  type StsConfig,
  type UpstreamConfig,
} from './config.js'
export { ConfigError } from '../config/config_error.js'
