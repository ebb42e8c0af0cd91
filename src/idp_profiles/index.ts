/**
 * IdP profiles: a typed description of each identity provider onbehalf can run against. Reading
 * the settings that select one from the environment (`IDP=embedded|keycloak|authentik|generic`) is
 * configuration's job: `loadIdpSettings` in src/config/idp_settings.ts.
 */
export {
  IDP_KINDS,
  discoveryUrlOf,
  idpProfile,
  issuerForClient,
  jwksUriForIssuer,
  parseCalVer,
  type IdpKind,
  type IdpSettings,
  type Strategy,
} from './profiles.js'
