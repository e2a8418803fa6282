// The system Chromium for the console's browser test and screenshot, driven by playwright-core.
// Never downloads a browser: the Debian package's binary is used, with a fresh profile each time.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** A headless Chromium with a fresh profile in a temporary directory. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(path.join(tmpdir(), 'jitb-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1440, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Signs in through the IdP's login form; resolves on the console page the browser lands on. */
export async function signInInBrowser(
  page: Page,
  brokerUrl: string,
  login: string,
  password: string,
): Promise<void> {
  await page.goto(`${brokerUrl}/console`);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill(password);
  await Promise.all([page.waitForURL(`${brokerUrl}/console`), page.locator('button[type="submit"]').click()]);
}
