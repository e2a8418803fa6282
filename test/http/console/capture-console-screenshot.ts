// Regenerates docs/console.png: the console's pending list with demo requests, as a signed-in
// reviewer sees it in Chromium. Not a test; run by hand after changing the console's views:
//   npx tsx test/http/console/capture-console-screenshot.ts [list.png] [review.png]
// The requests are real (made through POST /v1/credentials against the test harness); only the
// issuer names, which the harness derives from its loopback URLs, are relabelled for the picture.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, signInInBrowser } from './chromium.js';
import { askForStepUp } from './console-flows.js';
import { startConsoleHarness } from './console-harness.js';
import { staffPassword } from './staff-idp.js';

const output =
  process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../docs/console.png');

const h = await startConsoleHarness();
const browser = await launchChromium();
try {
  const minutesAgo = async (minutes: number, make: () => Promise<unknown>) => {
    h.tb.clock.advance(-minutes * 60);
    try {
      await make();
    } finally {
      h.tb.clock.advance(minutes * 60);
    }
  };
  await minutesAgo(11, () =>
    askForStepUp(h, {
      agent: 'billing-reconciler',
      namespace: 'billing',
      template: 'billing-api',
      taskId: 'FIN-2207',
      purpose: 'Refund the duplicate charges from the 14 May card-processor incident',
      actions: ['billing:read', 'billing:refund'],
      onBehalfOf: 'marco.rossi',
    }),
  );
  await minutesAgo(6, () =>
    askForStepUp(h, {
      agent: 'reports-publisher',
      namespace: 'reports',
      template: 'reports-admin',
      taskId: 'INC-5120',
      purpose: 'Republish the Q3 board report after the revenue data fix',
      actions: ['reports:read', 'reports:admin'],
      ttlSeconds: 45 * 60,
    }),
  );
  await minutesAgo(2, () =>
    askForStepUp(h, {
      agent: 'crm-exporter',
      namespace: 'crm',
      template: 'customer-export',
      taskId: 'GDPR-0193',
      purpose: 'Export one customer’s records for a GDPR subject access request',
      actions: ['customers:read', 'customers:export'],
      onBehalfOf: 'priya.shah',
    }),
  );
  await h.tb.database.sql`
    update leases set agent_issuer = 'k8s-prod',
      on_behalf_of = case when on_behalf_of is null then null
        else jsonb_set(on_behalf_of, '{issuer}', '"https://sso.example.com"') end`;

  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1440, height: 580 });
  await signInInBrowser(page, h.brokerUrl, 'alice', staffPassword('alice'));
  await page.locator('#pending').waitFor();
  await page.screenshot({ path: output, fullPage: true });
  console.log(`wrote ${output}`);
  const reviewOutput = process.argv[3];
  if (reviewOutput !== undefined) {
    await page.locator('#pending a.button').first().click();
    await page.locator('#decide').waitFor();
    await page.screenshot({ path: reviewOutput, fullPage: true });
    console.log(`wrote ${reviewOutput}`);
  }
} finally {
  await browser.close();
  await h.close();
}
