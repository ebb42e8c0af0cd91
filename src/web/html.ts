/**
 * HTML templating without a framework: the `html` tag escapes every interpolated value, so
 * untrusted text (claims, error descriptions from other services, user names) can never become
 * markup. Trusted fragments are wrapped with `raw()`, and nested `html` results pass through as-is.
 *
 * @example
 * const page = html`<p>Hello ${user.name}</p>${raw('<hr>')}`
 * reply.type('text/html; charset=utf-8').send(page.toString())
 */

const SAFE_HTML = Symbol('onbehalf.safeHtml')

/** A fragment of markup that is already safe to emit. Build it with `html` or `raw()`. */
export class SafeHtml {
  readonly [SAFE_HTML] = true
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

export function isSafeHtml(value: unknown): value is SafeHtml {
  return value instanceof SafeHtml
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
}

/** Escapes text for use in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (char) => ESCAPES[char] ?? char)
}

/** Marks a string as trusted markup. Never pass anything derived from a request or a token. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup)
}

function renderValue(value: unknown): string {
  if (value === null || value === undefined || value === false) return ''
  if (value instanceof SafeHtml) return value.value
  if (Array.isArray(value)) return value.map(renderValue).join('')
  return escapeHtml(String(value))
}

/**
 * Tagged template: escapes every interpolation. `null`, `undefined` and `false` render as nothing
 * (so `${cond && html`...`}` works); arrays are concatenated, each element escaped on its own.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? ''
  for (let i = 0; i < values.length; i++) {
    out += renderValue(values[i]) + (strings[i + 1] ?? '')
  }
  return new SafeHtml(out)
}
