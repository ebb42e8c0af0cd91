/**
 * IdP profiles: a typed description of each identity provider onbehalf can run against, and the
 * settings that select one (`IDP=embedded|keycloak|authentik|generic`).
 */
export {
  IDP_KINDS,
  STRATEGIES,
  calVerAtLeast,
  discoveryUrlOf,
  idpProfile,
  issuerForClient,
  jwksUriForIssuer,
  parseCalVer,
  type CalVer,
  type IdpKind,
  type IdpProfile,
  type IdpSettings,
  type Strategy,
} from './profiles.js'
export { loadIdpSettings } from './settings.js'
