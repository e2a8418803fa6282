// The console's live leases page (revoking one under the reviewer's name) and its audit trail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfOf, type Page } from './console-client.js';
import {
  askForStepUp,
  collectAsAgent,
  decideOnPage,
  leaseRow,
  type PendingRequest,
  signedIn,
} from './console-flows.js';
import { type ConsoleHarness, startConsoleHarness } from './console-harness.js';

let h: ConsoleHarness;

beforeAll(async () => {
  h = await startConsoleHarness();
});

afterAll(async () => {
  await h?.close();
});

/** A request approved on the console by dave and collected by its agent: an active lease. */
async function liveLease(
  overrides: Parameters<typeof askForStepUp>[1] = {},
): Promise<PendingRequest & { token: string }> {
  const request = await askForStepUp(h, overrides);
  const { client } = await signedIn(h, 'dave');
  await decideOnPage(client, request.approvalId, 'approve', 'approved for the lease tests');
  const collected = await collectAsAgent(h, request);
  expect(collected.status).toBe(201);
  return { ...request, token: collected.body.credential.token as string };
}

function leaseRowOf(page: Page, leaseId: string): string | undefined {
  return new RegExp(`<tr data-lease-id="${leaseId}">[\\s\\S]*?</tr>`).exec(page.text)?.[0];
}

describe('the live leases page', () => {
  it('lists an active lease with its agent, template, task and a revoke form', async () => {
    const lease = await liveLease({ taskId: 'INC-7781', purpose: 'rotate the report signing key' });
    const { client } = await signedIn(h, 'alice');
    const page = await client.get('/console/leases');
    const row = leaseRowOf(page, lease.leaseId);
    expect(row).toBeDefined();
    expect(row).toContain('<td>active</td>');
    expect(row).toContain('<code>reports-publisher</code>');
    expect(row).toContain('<code>reports-admin</code>');
    expect(row).toContain('<code>INC-7781</code><div class="purpose">rotate the report signing key</div>');
    expect(row).toContain(`action="/console/leases/${lease.leaseId}/revoke"`);
  });

  it('revokes a lease from its row: the lease is revoked with the reason, leaves the list, and its token is inactive', async () => {
    const lease = await liveLease();
    const introspect = () => h.tb.request('POST', '/v1/introspect', { body: { token: lease.token } });
    expect((await introspect()).body.active).toBe(true);

    const { client } = await signedIn(h, 'alice');
    const page = await client.get('/console/leases');
    const revoke = await client.post(
      `/console/leases/${lease.leaseId}/revoke`,
      { csrf: csrfOf(page), reason: 'agent behaving oddly, INC-9001' },
      { follow: false },
    );
    expect(revoke.status).toBe(303);
    expect(revoke.headers.get('location')).toBe('/console/leases?notice=revoked');
    const after = await client.follow(revoke);
    expect(after.text).toContain('The lease was revoked.');
    expect(leaseRowOf(after, lease.leaseId)).toBeUndefined();

    expect(await leaseRow(h, lease.leaseId)).toEqual({
      state: 'revoked',
      revoke_reason: 'agent behaving oddly, INC-9001',
    });
    expect((await introspect()).body).toEqual({ active: false });
    const [event] = await h.tb.database.sql<{ actor: string }[]>`
      select actor from audit_events where lease_id = ${lease.leaseId} and event = 'lease.revoked'`;
    expect(event?.actor).toBe('staff:alice');
  });

  it('says so when the lease was no longer live', async () => {
    const lease = await liveLease();
    const { client } = await signedIn(h, 'alice');
    const page = await client.get('/console/leases');
    await client.post(`/console/leases/${lease.leaseId}/revoke`, { csrf: csrfOf(page), reason: 'first tab' });
    const second = await client.post(`/console/leases/${lease.leaseId}/revoke`, {
      csrf: csrfOf(page),
      reason: 'second tab',
    });
    expect(second.text).toContain('The lease was no longer live: nothing was revoked.');
    expect((await leaseRow(h, lease.leaseId)).revoke_reason).toBe('first tab');
  });

  it('requires a reason to revoke and leaves the lease active without one', async () => {
    const lease = await liveLease();
    const { client } = await signedIn(h, 'alice');
    const page = await client.get('/console/leases');
    const res = await client.post(`/console/leases/${lease.leaseId}/revoke`, {
      csrf: csrfOf(page),
      reason: ' ',
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain('a reason is required to revoke a lease');
    expect((await leaseRow(h, lease.leaseId)).state).toBe('active');
  });

  it('answers 404 to a revoke of something that is not a lease id', async () => {
    const { client } = await signedIn(h, 'alice');
    const page = await client.get('/console/leases');
    const res = await client.post('/console/leases/not-a-lease/revoke', { csrf: csrfOf(page), reason: 'x' });
    expect(res.status).toBe(404);
    expect(res.text).toContain('no such lease');
  });
});

describe('the audit trail page', () => {
  it('lists the review events of a request: who asked, who voted with which reason, who collected', async () => {
    const lease = await liveLease({ taskId: 'CHG-311', purpose: 'publish the board pack' });
    const { client } = await signedIn(h, 'alice');
    const page = await client.get(`/console/audit?lease_id=${lease.leaseId}`);
    expect(page.status).toBe(200);
    const rows = page.text.match(/<tr>\s*<td class="mono small">[\s\S]*?<\/tr>/g) ?? [];
    const events = rows.map((row) => /<td><code>([a-z._]+)<\/code>/.exec(row)?.[1]);
    expect(events).toEqual(
      expect.arrayContaining([
        'decision',
        'approval.requested',
        'approval.vote',
        'approval.approved',
        'approval.collected',
        'lease.issued',
      ]),
    );
    // Every row is about this lease: the filter holds.
    expect(rows.every((row) => row.includes(`href="/console/audit?lease_id=${lease.leaseId}"`))).toBe(true);
    const vote = rows.find((row) => row.includes('<code>approval.vote</code>'));
    expect(vote).toContain('staff:dave');
    expect(vote).toContain('approved for the lease tests');
    expect(page.text).toContain(`value="${lease.leaseId}"`);
  });

  it('lists a denial with the reviewer and the reason', async () => {
    const request = await askForStepUp(h);
    const { client } = await signedIn(h, 'alice');
    await decideOnPage(client, request.approvalId, 'deny', 'outside the change window');
    const page = await client.get(`/console/audit?lease_id=${request.leaseId}`);
    const denied =
      /<tr>\s*<td class="mono small">(?:(?!<\/tr>)[\s\S])*?<code>approval\.denied<\/code>[\s\S]*?<\/tr>/.exec(
        page.text,
      )?.[0];
    expect(denied).toBeDefined();
    expect(denied).toContain('staff:alice');
    expect(denied).toContain('outside the change window');
  });

  it('filters by agent and shows nothing for an agent without events', async () => {
    await askForStepUp(h, { agent: 'audit-filter-agent' });
    const { client } = await signedIn(h, 'alice');
    const mine = await client.get('/console/audit?agent=audit-filter-agent');
    expect(mine.text).toContain('<code>approval.requested</code>');
    expect(mine.text).not.toContain('<code>reports-publisher</code>');
    const none = await client.get('/console/audit?agent=nobody-at-all');
    expect(none.text).toContain('No audit event matches.');
  });
});
