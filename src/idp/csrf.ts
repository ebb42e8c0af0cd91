/**
 * CSRF tokens of the IdP's own forms (the delegation consent and the account page): an HMAC of
 * what the form acts on (the interaction, or the signed-in IdP session) under the cookie secret.
 * A page of another site can neither read the token nor compute it, and a token of one session
 * or interaction is worthless for another. The cookies are SameSite=Lax as well.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export interface CsrfTokens {
  create(purpose: string, boundTo: string): string
  /** False unless `token` is the one `create(purpose, boundTo)` gives. */
  verify(purpose: string, boundTo: string, token: unknown): boolean
}

export function createCsrfTokens(secret: string): CsrfTokens {
  if (secret.length < 32) throw new TypeError('"secret" must have at least 32 characters')
  const create = (purpose: string, boundTo: string) =>
    createHmac('sha256', secret).update(`onbehalf-csrf\0${purpose}\0${boundTo}`).digest('base64url')
  return Object.freeze({
    create,
    verify(purpose: string, boundTo: string, token: unknown) {
      if (typeof token !== 'string' || token.length > 128) return false
      const expected = Buffer.from(create(purpose, boundTo))
      const given = Buffer.from(token)
      return given.length === expected.length && timingSafeEqual(given, expected)
    },
  })
}
