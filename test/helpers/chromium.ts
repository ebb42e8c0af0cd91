/**
 * Headless Chromium for the browser tests (playwright-core driving /usr/bin/chromium, or
 * CHROMIUM_PATH): one launch with the project's flags and a fresh profile per run, and the sign-in
 * on the IdP's login form. Used by every Chromium test, so the flags live in one place.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** `skip` for a describe block: false when Chromium is installed, else the reason. */
export const chromiumSkip: string | false = existsSync(CHROMIUM)
  ? false
  : `Chromium not installed at ${CHROMIUM} (.ci/run installs it)`

export interface LaunchedChromium {
  readonly context: BrowserContext
  /** Closes the browser and removes its profile. */
  close(): Promise<void>
}

export async function launchChromium(
  options: { ignoreHTTPSErrors?: boolean } = {},
): Promise<LaunchedChromium> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'onbehalf-chromium-'))
  try {
    // A fresh profile per run (playwright passes it to Chromium as --user-data-dir).
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      ...(options.ignoreHTTPSErrors ? { ignoreHTTPSErrors: true } : {}),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    })
    return {
      context,
      async close() {
        await context.close()
        rmSync(userDataDir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true })
    throw error
  }
}

/** Fills the onbehalf IdP's login form (labels Username / Password) and submits it. */
export async function signInAtIdp(page: Page, username: string, password = 'changeme') {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: /sign in/i }).click()
}
