// What an attacker tries against the console: forms posted without (or with someone else's) CSRF
// token or from another site, hostile values in requests rendered to reviewers, and looking for
// a secret on any page the console serves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MASTER_KEY, TEST_WEBHOOK_SECRET } from '../../helpers/broker.js';
import { csrfOf } from './console-client.js';
import {
  approvalStatus,
  askForStepUp,
  auditCount,
  collectAsAgent,
  decideOnPage,
  leaseRow,
  pendingRow,
  signedIn,
} from './console-flows.js';
import { CONSOLE_CLIENT_SECRET, type ConsoleHarness, startConsoleHarness } from './console-harness.js';

let h: ConsoleHarness;

beforeAll(async () => {
  h = await startConsoleHarness();
});

afterAll(async () => {
  await h?.close();
});

const CSRF_REFUSED = 'the form was not sent by this console session (missing or wrong CSRF token)';

describe('CSRF protection on every form', () => {
  it('refuses an approval POSTed without a CSRF token with 403 and changes nothing', async () => {
    const request = await askForStepUp(h);
    const before = await auditCount(h, request.leaseId);
    const { client } = await signedIn(h, 'alice');
    const res = await client.post(`/console/approvals/${request.approvalId}/approve`, {
      reason: 'looks fine',
    });
    expect(res.status).toBe(403);
    expect(res.text).toContain(CSRF_REFUSED);
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({ status: 'pending', votes: [] });
    expect(await auditCount(h, request.leaseId)).toBe(before);
    expect(pendingRow(await client.get('/console'), request.approvalId)).toBeDefined();
  });

  it('refuses a denial with a wrong CSRF token with 403 and changes nothing', async () => {
    const request = await askForStepUp(h);
    const before = await auditCount(h, request.leaseId);
    const { client, home } = await signedIn(h, 'alice');
    const token = csrfOf(home);
    const wrong = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    for (const csrf of [wrong, '', token.slice(0, 20)]) {
      const res = await client.post(`/console/approvals/${request.approvalId}/deny`, {
        csrf,
        reason: 'forged',
      });
      expect(res.status).toBe(403);
      expect(res.text).toContain(CSRF_REFUSED);
    }
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({ status: 'pending', votes: [] });
    expect(await auditCount(h, request.leaseId)).toBe(before);
  });

  it("refuses another staff member's CSRF token: the token is bound to the session", async () => {
    const request = await askForStepUp(h);
    const alice = await signedIn(h, 'alice');
    const dave = await signedIn(h, 'dave');
    const res = await alice.client.post(`/console/approvals/${request.approvalId}/approve`, {
      csrf: csrfOf(dave.home),
      reason: 'riding on dave',
    });
    expect(res.status).toBe(403);
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({ status: 'pending', votes: [] });
  });

  it('refuses a JSON body even with the right token: only the console form is accepted', async () => {
    const request = await askForStepUp(h);
    const { client, home } = await signedIn(h, 'alice');
    const res = await client.request(`/console/approvals/${request.approvalId}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: h.brokerUrl },
      body: JSON.stringify({ csrf: csrfOf(home), reason: 'json' }),
    });
    expect(res.status).toBe(403);
    expect((await approvalStatus(h, request.approvalId)).status).toBe('pending');
  });

  it('refuses a form posted from another origin even with the right token', async () => {
    const request = await askForStepUp(h);
    const { client, home } = await signedIn(h, 'alice');
    const form = { csrf: csrfOf(home), reason: 'cross-site' };
    const evil = await client.post(`/console/approvals/${request.approvalId}/approve`, form, {
      origin: 'https://evil.example',
    });
    expect(evil.status).toBe(403);
    expect(evil.text).toContain(`this form was not submitted from the console at ${h.brokerUrl}`);
    // A browser that sends neither Origin nor Referer gives no proof of where the form came from.
    const blind = await client.post(`/console/approvals/${request.approvalId}/approve`, form, {
      origin: null,
    });
    expect(blind.status).toBe(403);
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({ status: 'pending', votes: [] });
  });

  it('refuses a lease revocation without the CSRF token and leaves the lease active', async () => {
    const request = await askForStepUp(h);
    const { client } = await signedIn(h, 'alice');
    await decideOnPage(client, request.approvalId, 'approve', 'for the revoke test');
    expect((await collectAsAgent(h, request)).status).toBe(201);
    const before = await auditCount(h, request.leaseId);
    const missing = await client.post(`/console/leases/${request.leaseId}/revoke`, { reason: 'forged' });
    expect(missing.status).toBe(403);
    const wrong = await client.post(`/console/leases/${request.leaseId}/revoke`, {
      csrf: 'x'.repeat(43),
      reason: 'forged',
    });
    expect(wrong.status).toBe(403);
    expect(await leaseRow(h, request.leaseId)).toEqual({ state: 'active', revoke_reason: null });
    expect(await auditCount(h, request.leaseId)).toBe(before);
  });

  it('refuses sign-out without the CSRF token: the session stays', async () => {
    const { client } = await signedIn(h, 'alice');
    const res = await client.post('/console/logout', {}, { follow: false });
    expect(res.status).toBe(403);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect((await client.request('/console')).status).toBe(200);
  });

  it('answers 401 to a POST without a session and changes nothing', async () => {
    const request = await askForStepUp(h);
    const { home } = await signedIn(h, 'alice');
    const stranger = h.client();
    const res = await stranger.post(`/console/approvals/${request.approvalId}/approve`, {
      csrf: csrfOf(home),
      reason: 'no session',
    });
    expect(res.status).toBe(401);
    expect(res.text).toContain('sign in and try again');
    expect((await approvalStatus(h, request.approvalId)).status).toBe('pending');
  });

  it('treats a tampered session cookie as no session', async () => {
    const { client } = await signedIn(h, 'alice');
    const sealed = client.jar.get('jitb_console')!;
    const flipped = `${sealed.slice(0, -2)}${sealed.endsWith('AA') ? 'BB' : 'AA'}`;
    client.jar.set(new URL(h.brokerUrl).hostname, 'jitb_console', flipped, '/console');
    const res = await client.request('/console');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(/^\/console\/login\?/);
  });
});

describe('hostile values are rendered as text', () => {
  const SCRIPT = '<script>alert(1)</script>';
  const IMG = '"><img src=x onerror=alert(2)>';

  it('escapes a hostile agent name, purpose and reasons on every page that shows them', async () => {
    const request = await askForStepUp(h, { agent: `agent${IMG}`, purpose: SCRIPT });
    const { client } = await signedIn(h, 'alice');
    const pages = [
      await client.get('/console'),
      await client.get(`/console/approvals/${request.approvalId}`),
    ];
    await decideOnPage(client, request.approvalId, 'approve', `ok ${SCRIPT}`);
    expect((await collectAsAgent(h, request)).status).toBe(201);
    pages.push(
      await client.get('/console/leases'),
      await client.get(`/console/audit?lease_id=${request.leaseId}`),
    );

    const denied = await askForStepUp(h, { purpose: SCRIPT });
    await decideOnPage(client, denied.approvalId, 'deny', IMG);
    pages.push(
      await client.get(`/console/approvals/${denied.approvalId}`),
      await client.get(`/console/audit?lease_id=${denied.leaseId}`),
    );

    for (const page of pages) {
      expect(page.status).toBe(200);
      expect(page.text).not.toContain(SCRIPT);
      expect(page.text).not.toContain('<img');
      expect(page.text).not.toMatch(/<script/i);
    }
    expect(pages[0]!.text).toContain('<div class="purpose">&lt;script&gt;alert(1)&lt;/script&gt;</div>');
    expect(pages[1]!.text).toContain('<code>agent&quot;&gt;&lt;img src=x onerror=alert(2)&gt;</code>');
    expect(pages[2]!.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(pages[4]!.text).toContain('alice — &quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    // The audit details are JSON inside HTML: escaped once, readable.
    expect(pages[3]!.text).toContain('ok &lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('escapes hostile filter values echoed in the audit form', async () => {
    const { client } = await signedIn(h, 'alice');
    const page = await client.get(`/console/audit?agent=${encodeURIComponent(IMG)}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('value="&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"');
    expect(page.text).not.toContain('<img');
  });

  it('refuses a lease filter that is not a lease id, naming the field, without echoing it raw', async () => {
    const { client } = await signedIn(h, 'alice');
    const page = await client.get(`/console/audit?lease_id=${encodeURIComponent(SCRIPT)}`);
    expect(page.status).toBe(400);
    expect(page.text).toContain('<li><code>lease_id</code>: must be a UUID</li>');
    expect(page.text).not.toContain(SCRIPT);
  });

  it('shows only fixed notices: a crafted notice link puts no words on the page', async () => {
    const { client } = await signedIn(h, 'alice');
    const page = await client.get(`/console?notice=${encodeURIComponent(SCRIPT)}`);
    expect(page.text).not.toContain('id="notice"');
    expect(page.text).not.toContain('alert(1)');
    const proto = await client.get('/console?notice=__proto__');
    expect(proto.status).toBe(200);
    expect(proto.text).not.toContain('id="notice"');
  });
});

describe('no secret on any console page', () => {
  it('never renders the credential, the client secret, the session or sign-in cookie, the authorization code or a password', async () => {
    const client = h.client();
    await client.signIn('alice');
    const approved = await askForStepUp(h, { onBehalfOf: 'carol' });
    await decideOnPage(client, approved.approvalId, 'approve', 'secret-free review');
    const collected = await collectAsAgent(h, approved);
    expect(collected.status).toBe(201);
    const credentialToken = collected.body.credential.token as string;
    const denied = await askForStepUp(h);
    await decideOnPage(client, denied.approvalId, 'deny', 'not today');

    for (const path of [
      '/console',
      `/console/approvals/${approved.approvalId}`,
      `/console/approvals/${denied.approvalId}`,
      '/console/leases',
      '/console/audit',
      `/console/audit?lease_id=${approved.leaseId}`,
      `/console/audit?agent=${approved.agent}`,
      '/console/no-such-page',
    ]) {
      await client.get(path);
    }
    await client.post(`/console/approvals/${denied.approvalId}/approve`, { csrf: 'wrong', reason: 'x' });
    const sessionCookie = client.jar.get('jitb_console')!;
    const loginCookies = client.jar.setCookieLines
      .filter((line) => line.startsWith('jitb_login=') && !line.startsWith('jitb_login=;'))
      .map((line) => line.slice('jitb_login='.length).split(';')[0]!);
    const codes = client.redirects
      .filter((url) => url.startsWith(`${h.brokerUrl}/console/callback?`))
      .map((url) => new URL(url).searchParams.get('code')!);
    await client.post('/console/logout', { csrf: csrfOf(await client.get('/console')) });

    const secrets = [
      credentialToken,
      credentialToken.split('.')[2]!,
      CONSOLE_CLIENT_SECRET,
      TEST_WEBHOOK_SECRET,
      TEST_MASTER_KEY.toString('hex'),
      TEST_MASTER_KEY.toString('base64'),
      sessionCookie,
      ...loginCookies,
      ...codes,
    ];
    expect(loginCookies.length).toBeGreaterThan(0);
    expect(codes.length).toBeGreaterThan(0);
    expect(client.brokerPages.length).toBeGreaterThan(10);
    for (const page of client.brokerPages) {
      for (const secret of secrets) expect(page).not.toContain(secret);
      expect(page).not.toMatch(
        /password|client_secret|secret_access_key|session_token|id_token|access_token/i,
      );
    }
    // Nor in the broker's log lines.
    for (const secret of [credentialToken, CONSOLE_CLIENT_SECRET, sessionCookie, ...codes]) {
      expect(h.tb.logs.join('\n')).not.toContain(secret);
    }
  });
});
