/**
 * Sends a plan (planner.ts) in order, filling `{{ref}}` placeholders with the ids Keycloak returned
 * in the Location header of earlier creates. Stops at the first refused write, naming it.
 */
import type { KeycloakAdmin } from '../admin_client.js'
import { KeycloakSetupError, type AdminRequest } from './representations.js'

export async function applyKeycloakPlan(
  admin: KeycloakAdmin,
  steps: readonly AdminRequest[],
): Promise<void> {
  const ids = new Map<string, string>()
  const fill = (path: string) =>
    path.replace(/\{\{([^}]+)\}\}/g, (_match, name: string) => {
      const id = ids.get(name)
      if (!id) throw new KeycloakSetupError(`no id captured for ${name}`)
      return encodeURIComponent(id)
    })
  for (const step of steps) {
    const path = fill(step.path)
    const response = await admin.send(step.method, path, step.body)
    if (response.status < 200 || response.status >= 300) {
      throw new KeycloakSetupError(
        `${step.method} ${path} (${step.reason}): ${response.status} ${JSON.stringify(response.body)}`,
      )
    }
    if (step.captureIdAs) {
      const id = response.location?.split('/').pop()
      if (!id)
        throw new KeycloakSetupError(`${step.method} ${path}: no Location header with the new id`)
      ids.set(step.captureIdAs, id)
    }
  }
}
