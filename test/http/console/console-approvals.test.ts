// Reviewing step-up requests on the console: what a reviewer sees, approving, denying with a
// reason, and the refusals the approvals service makes (wrong group, one's own request).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfOf } from './console-client.js';
import {
  approvalStatus,
  askForStepUp,
  collectAsAgent,
  decideOnPage,
  leaseRow,
  pendingRow,
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

describe('the pending list', () => {
  it('shows each pending request with its agent, human, intent, deciding policies, approvals needed and risk', async () => {
    const request = await askForStepUp(h, {
      agent: 'crm-exporter',
      namespace: 'crm',
      template: 'customer-export',
      taskId: 'JIRA-4412',
      purpose: 'export EU customers for the GDPR access request',
      actions: ['customers:export'],
      onBehalfOf: 'carol',
    });
    const { home } = await signedIn(h, 'alice');
    const row = pendingRow(home, request.approvalId);
    expect(row).toBeDefined();
    expect(row).toContain('<code>crm-exporter</code>');
    expect(row).toContain(`carol<div class="muted small">${h.idp.issuer}</div>`);
    expect(row).toContain('<code class="template">customer-export</code>');
    expect(row).toContain('<code>JIRA-4412</code>');
    expect(row).toContain('export EU customers for the GDPR access request');
    expect(row).toContain('<code class="chip">customers:export</code>');
    expect(row).toContain('<code>customer-export-two-approvers</code>');
    expect(row).toContain('0 of 2');
    expect(row).toContain('group <span class="nowrap">security-oncall</span>');
    // customers:export is a privileged action: high risk, with the reason spelled out.
    expect(row).toMatch(/<span class="risk risk-high"[^>]*>high<\/span>/);
    expect(row).toContain('privileged actions: customers:export');
  });

  it('links each request to a review page with the approve and deny form', async () => {
    const request = await askForStepUp(h);
    const { client } = await signedIn(h, 'alice');
    const review = await client.get(`/console/approvals/${request.approvalId}`);
    expect(review.status).toBe(200);
    expect(review.text).toContain(`action="/console/approvals/${request.approvalId}/approve"`);
    expect(review.text).toContain(`formaction="/console/approvals/${request.approvalId}/deny"`);
    expect(review.text).toContain(`<dd><code>${request.leaseId}</code></dd>`);
    expect(review.text).toContain('<code class="chip">reports-admin-needs-oncall</code>');
  });

  it('answers 404 for a request id that does not exist or is not an id', async () => {
    const { client } = await signedIn(h, 'alice');
    expect((await client.get('/console/approvals/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const bad = await client.get('/console/approvals/..%2F..%2Fv1%2Fleases');
    expect(bad.status).toBe(404);
    expect(bad.text).toContain('no such approval request');
  });
});

describe('approving from the console', () => {
  it('records the approval with the reviewer and reason, drops the request from the list, and lets the agent collect', async () => {
    const request = await askForStepUp(h, { taskId: 't-approve', purpose: 'fix the broken Q3 dashboard' });
    const { client, home } = await signedIn(h, 'alice');
    expect(pendingRow(home, request.approvalId)).toBeDefined();

    const { response } = await decideOnPage(
      client,
      request.approvalId,
      'approve',
      'INC-2291, on-call confirmed',
    );
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/console?notice=approved');

    const after = await client.follow(response);
    expect(after.text).toContain('The request was approved.');
    expect(pendingRow(after, request.approvalId)).toBeUndefined();

    const stored = await h.tb.broker.approvals.get(request.approvalId);
    expect(stored?.status).toBe('approved');
    expect(stored?.approvals).toEqual([
      { approver: 'alice', reason: 'INC-2291, on-call confirmed', at: expect.any(String) },
    ]);

    const collected = await collectAsAgent(h, request);
    expect(collected.status).toBe(201);
    expect(collected.body).toMatchObject({
      lease_id: request.leaseId,
      template: 'reports-admin',
      credential: { type: 'jwt' },
    });
    expect((await leaseRow(h, request.leaseId)).state).toBe('active');
  });

  it('approves without a reason: the reason is optional for an approval', async () => {
    const request = await askForStepUp(h);
    const { client } = await signedIn(h, 'dave');
    const { response } = await decideOnPage(client, request.approvalId, 'approve', '   ');
    expect(response.headers.get('location')).toBe('/console?notice=approved');
    expect((await h.tb.broker.approvals.get(request.approvalId))?.approvals).toEqual([
      { approver: 'dave', reason: null, at: expect.any(String) },
    ]);
  });

  it('keeps a two-approver request pending after the first approval and says so, then completes it with a second reviewer', async () => {
    const request = await askForStepUp(h, {
      agent: 'crm-exporter',
      namespace: 'crm',
      template: 'customer-export',
      purpose: 'quarterly churn analysis',
      actions: ['customers:read'],
      onBehalfOf: 'bob',
    });
    const alice = await signedIn(h, 'alice');
    const first = await decideOnPage(alice.client, request.approvalId, 'approve', 'looks fine');
    expect(first.response.headers.get('location')).toBe('/console?notice=approval-recorded');
    const list = await alice.client.follow(first.response);
    expect(list.text).toContain('Your approval was recorded; the request needs more approvers.');
    expect(pendingRow(list, request.approvalId)).toContain('1 of 2');

    // The same reviewer cannot count twice.
    const again = await decideOnPage(alice.client, request.approvalId, 'approve', 'really fine');
    expect(again.response.status).toBe(409);
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({
      status: 'pending',
      votes: ['alice'],
    });

    const dave = await signedIn(h, 'dave');
    const second = await decideOnPage(dave.client, request.approvalId, 'approve', 'second pair of eyes');
    expect(second.response.headers.get('location')).toBe('/console?notice=approved');
    expect(pendingRow(await dave.client.follow(second.response), request.approvalId)).toBeUndefined();
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({
      status: 'approved',
      votes: ['alice', 'dave'],
    });
    expect((await collectAsAgent(h, request)).status).toBe(201);
  });

  it('refuses a decision on a request whose credential was already collected, with a clear page', async () => {
    const request = await askForStepUp(h);
    const { client } = await signedIn(h, 'alice');
    const review = await client.get(`/console/approvals/${request.approvalId}`);
    await decideOnPage(client, request.approvalId, 'approve', 'ok');
    expect((await collectAsAgent(h, request)).status).toBe(201);
    // The reviewer's second tab still shows the old form.
    const stale = await client.post(`/console/approvals/${request.approvalId}/deny`, {
      csrf: csrfOf(review),
      reason: 'changed my mind',
    });
    expect(stale.status).toBe(409);
    expect(stale.text).toContain(
      `<div class="notice error" role="alert" id="problem">approval ${request.approvalId} is collected</div>`,
    );
    expect((await approvalStatus(h, request.approvalId)).status).toBe('collected');
    expect((await leaseRow(h, request.leaseId)).state).toBe('active');
    // Once decided, the review page shows the decision and no form.
    const decided = await client.get(`/console/approvals/${request.approvalId}`);
    expect(decided.text).toContain('Status <strong>collected</strong>');
    expect(decided.text).not.toContain('id="decide"');
    expect(decided.text).not.toContain('id="withdraw"');
  });

  it('offers to withdraw an approval the agent has not collected yet: it is denied and nothing is issued', async () => {
    const request = await askForStepUp(h, { taskId: 't-withdraw' });
    const { client } = await signedIn(h, 'alice');
    await decideOnPage(client, request.approvalId, 'approve', 'looked fine at first');
    expect((await approvalStatus(h, request.approvalId)).status).toBe('approved');

    const review = await client.get(`/console/approvals/${request.approvalId}`);
    expect(review.text).toContain('Status <strong>approved</strong>');
    expect(review.text).not.toContain('id="decide"');
    expect(review.text).toContain(
      `<form class="card" method="post" action="/console/approvals/${request.approvalId}/deny" id="withdraw">`,
    );

    const withdrawn = await client.post(
      `/console/approvals/${request.approvalId}/deny`,
      { csrf: csrfOf(review), reason: 'the change window was cancelled' },
      { follow: false },
    );
    expect(withdrawn.status).toBe(303);
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({
      status: 'denied',
      reason: 'the change window was cancelled',
    });
    const collected = await collectAsAgent(h, request);
    expect(collected.status).toBe(403);
    expect((await leaseRow(h, request.leaseId)).state).toBe('denied');
    expect((await client.get(`/console/approvals/${request.approvalId}`)).text).not.toContain(
      'id="withdraw"',
    );
  });
});

describe('denying from the console', () => {
  it('denies with the reason: the request leaves the list and the agent gets a 403 naming the reason', async () => {
    const request = await askForStepUp(h, { taskId: 't-deny', purpose: 'bulk re-run of every report' });
    const { client } = await signedIn(h, 'alice');
    const { response } = await decideOnPage(
      client,
      request.approvalId,
      'deny',
      'no change ticket for a bulk re-run',
    );
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/console?notice=denied');
    const after = await client.follow(response);
    expect(after.text).toContain('The request was denied.');
    expect(pendingRow(after, request.approvalId)).toBeUndefined();

    const collected = await collectAsAgent(h, request);
    expect(collected.status).toBe(403);
    expect(collected.body.detail).toBe('denied by a reviewer: no change ticket for a bulk re-run');
    expect(collected.body.reasons).toEqual(['no change ticket for a bulk re-run']);
    expect(await leaseRow(h, request.leaseId)).toEqual({
      state: 'denied',
      revoke_reason: 'denied by a reviewer: no change ticket for a bulk re-run',
    });
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({
      status: 'denied',
      reason: 'no change ticket for a bulk re-run',
    });
  });

  it('requires a reason to deny: the form comes back with the message and nothing is decided', async () => {
    const request = await askForStepUp(h);
    const { client } = await signedIn(h, 'alice');
    const { response } = await decideOnPage(client, request.approvalId, 'deny', '  ');
    expect(response.status).toBe(400);
    expect(response.text).toContain('a reason is required to deny a request');
    expect(response.text).toContain('id="decide"');
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({ status: 'pending', votes: [] });
  });

  it('refuses a reason over 1000 characters', async () => {
    const request = await askForStepUp(h);
    const { client } = await signedIn(h, 'alice');
    const { response } = await decideOnPage(client, request.approvalId, 'deny', 'x'.repeat(1001));
    expect(response.status).toBe(400);
    expect(response.text).toContain('the reason is at most 1000 characters');
    expect((await approvalStatus(h, request.approvalId)).status).toBe('pending');
  });
});

describe('who may decide', () => {
  it('shows a request to a member of another group but refuses their approval with a clear message', async () => {
    const request = await askForStepUp(h);
    const { client, home } = await signedIn(h, 'bob');
    expect(pendingRow(home, request.approvalId)).toBeDefined();

    const { response } = await decideOnPage(client, request.approvalId, 'approve', 'I know this agent');
    expect(response.status).toBe(403);
    expect(response.text).toContain(
      '<div class="notice error" role="alert" id="problem">only members of &quot;security-oncall&quot; may approve this request</div>',
    );
    expect(response.text).toContain('<a href="/console">Back to the console</a>');
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({ status: 'pending', votes: [] });

    const denied = await decideOnPage(client, request.approvalId, 'deny', 'not for me');
    expect(denied.response.status).toBe(403);
    expect(denied.response.text).toContain(
      'only members of &quot;security-oncall&quot; may deny this request',
    );
    expect((await approvalStatus(h, request.approvalId)).status).toBe('pending');
  });

  it('refuses the on_behalf_of human approving their own request, while another on-call member may', async () => {
    const request = await askForStepUp(h, {
      purpose: 'alice asked the agent to rebuild the index',
      onBehalfOf: 'alice',
    });
    const alice = await signedIn(h, 'alice');
    expect(pendingRow(alice.home, request.approvalId)).toBeDefined();
    const own = await decideOnPage(alice.client, request.approvalId, 'approve', 'it is mine');
    expect(own.response.status).toBe(403);
    expect(own.response.text).toContain('the human the agent acts for may not approve their own request');
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({ status: 'pending', votes: [] });

    const dave = await signedIn(h, 'dave');
    const other = await decideOnPage(
      dave.client,
      request.approvalId,
      'approve',
      'confirmed with alice by phone',
    );
    expect(other.response.headers.get('location')).toBe('/console?notice=approved');
    expect(await approvalStatus(h, request.approvalId)).toMatchObject({
      status: 'approved',
      votes: ['dave'],
    });
  });

  it('lets the on_behalf_of human withdraw their own request by denying it', async () => {
    const request = await askForStepUp(h, { onBehalfOf: 'carol' });
    const { client } = await signedIn(h, 'carol');
    const { response } = await decideOnPage(client, request.approvalId, 'deny', 'not needed any more');
    expect(response.headers.get('location')).toBe('/console?notice=denied');
    expect((await collectAsAgent(h, request)).status).toBe(403);
  });
});
