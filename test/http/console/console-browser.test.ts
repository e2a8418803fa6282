// The console in a real browser (the system's Chromium through playwright-core): sign in at the
// staff IdP's login page, find the pending request, approve it with a reason, see it leave the
// list. Proves what the HTTP-level tests cannot: the CSP lets the page render and its forms submit,
// the browser sends Origin on the console's POSTs, and the SameSite cookies survive the IdP round
// trip. Never downloads a browser: without /usr/bin/chromium the suite is skipped and says why.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, signInInBrowser } from './chromium.js';
import { approvalStatus, askForStepUp, collectAsAgent } from './console-flows.js';
import { type ConsoleHarness, startConsoleHarness } from './console-harness.js';
import { staffPassword } from './staff-idp.js';

const hasChromium = existsSync(CHROMIUM);
const title = hasChromium
  ? 'the console in Chromium'
  : `the console in Chromium — SKIPPED: ${CHROMIUM} is not installed (apt-get install -y chromium; .ci/run installs it)`;
if (!hasChromium) console.warn(`console-browser.test.ts skipped: ${CHROMIUM} is not installed`);

describe.skipIf(!hasChromium)(title, () => {
  let h: ConsoleHarness;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    h = await startConsoleHarness();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('signs in at the IdP, approves a pending request with a reason, and the request leaves the list', async () => {
    const request = await askForStepUp(h, {
      agent: 'reports-publisher',
      taskId: 'INC-5120',
      purpose: 'republish the Q3 board report after the data fix',
      actions: ['reports:admin'],
    });
    const page = await browser.context.newPage();
    page.on('console', (message) => {
      if (/Content[- ]Security[- ]Policy/i.test(message.text())) cspViolations.push(message.text());
    });

    await signInInBrowser(page, h.brokerUrl, 'alice', staffPassword('alice'));
    await expect.poll(() => page.locator('header .who').textContent()).toContain('Alice Ng');
    const row = page.locator(`tr[data-approval-id="${request.approvalId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('republish the Q3 board report after the data fix');
    // The stylesheet is allowed by its hash: the page is styled, not bare.
    // (A string: the tests compile without the DOM library.)
    const riskStyle = `getComputedStyle(document.querySelector('tr[data-approval-id="${request.approvalId}"] .risk')).textTransform`;
    expect(await page.evaluate(riskStyle)).toBe('uppercase');

    await Promise.all([
      page.waitForURL(`**/console/approvals/${request.approvalId}`),
      row.getByRole('link', { name: 'Review' }).click(),
    ]);
    await page.locator('#reason').fill('INC-5120: data fix verified with the reports team');
    await Promise.all([
      page.waitForURL(`${h.brokerUrl}/console?notice=approved`),
      page.locator('#approve').click(),
    ]);

    expect((await page.locator('#notice').textContent())?.trim()).toBe('The request was approved.');
    expect(await page.locator(`tr[data-approval-id="${request.approvalId}"]`).count()).toBe(0);
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({
      status: 'approved',
      votes: ['alice'],
    });
    expect((await h.tb.broker.approvals.get(request.approvalId))?.approvals[0]?.reason).toBe(
      'INC-5120: data fix verified with the reports team',
    );
    expect((await collectAsAgent(h, request)).status).toBe(201);

    // The session cookie is HttpOnly: no page script could read it.
    const cookies = await browser.context.cookies(`${h.brokerUrl}/console`);
    expect(cookies.find((c) => c.name === 'jitb_console')).toMatchObject({
      httpOnly: true,
      sameSite: 'Lax',
      path: '/console',
    });
    expect(cspViolations).toEqual([]);
  });
});
