/**
 * `setup keycloak` as four parts: the Admin REST API vocabulary (representations.ts), the pure
 * planner, the reader and the applier; the admin client sits one folder up. The CLI
 * (src/cli/setup_keycloak.ts) composes them: read → plan → print → apply.
 */
export * from './representations.js'
export {
  clientIdClaimMapper,
  desiredClientScopes,
  planKeycloakSetup,
  serviceAccountSubMapper,
} from './planner.js'
export { readKeycloakState } from './read_state.js'
export { applyKeycloakPlan } from './applier.js'
