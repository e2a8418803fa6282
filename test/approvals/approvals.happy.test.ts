// Step-up approvals that work: pending → approved by one (or two) members of the group → the agent
// collects its credential exactly once; deny; long-poll; listing; renewal; idempotent replay.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  approve,
  auditEvents,
  collect,
  deny,
  leaseState,
  PURGE_REQUEST,
  requestStepUp,
  startApprovalsBroker,
} from '../helpers/approvals.js';
import type { TestBroker } from '../helpers/broker.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startApprovalsBroker();
});
afterAll(async () => t?.close());

describe('a request that needs step-up', () => {
  it('is answered 202 with a pending approval and a lease waiting for it', async () => {
    const pending = await requestStepUp(t);
    expect(await leaseState(t, pending.leaseId)).toEqual({ state: 'pending_approval', revoke_reason: null });
    const lease = await t.request('GET', `/v1/leases/${pending.leaseId}`, { token: pending.agentToken });
    expect(lease.body.state).toBe('pending_approval');

    const res = await collect(t, pending.approvalId, pending.agentToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      approval_id: pending.approvalId,
      status: 'pending',
      lease_id: pending.leaseId,
    });
  });

  it('is listed for staff with what they need to decide, and nothing secret', async () => {
    const pending = await requestStepUp(t);
    const res = await t.request('GET', '/v1/approvals?status=pending', { token: await t.staffToken('sam') });
    expect(res.status).toBe(200);
    const item = res.body.items.find((a: { approval_id: string }) => a.approval_id === pending.approvalId);
    expect(item).toMatchObject({
      status: 'pending',
      lease_id: pending.leaseId,
      template: 'reports-admin',
      agent: 'agent-reports',
      agent_issuer: 'test',
      on_behalf_of: null,
      intent: {
        task_id: 't-admin',
        purpose: 'republish the monthly report',
        actions: ['reports:admin'],
        resources: [],
      },
      ttl_seconds: 300,
      policies: ['reports-admin-needs-approval'],
      group: 'security-oncall',
      required_approvals: 1,
      approvals: [],
      decided_at: null,
    });
    // Default approval window: 15 minutes.
    expect(Date.parse(item.expires_at) - Date.parse(item.created_at)).toBe(900_000);
    expect(await t.broker.approvals.get(pending.approvalId)).toEqual(item);
  });

  it('is approved by one member of the group, and the agent collects the credential exactly once', async () => {
    const pending = await requestStepUp(t);
    const approved = await approve(t, pending.approvalId, 'sam', { reason: 'on-call ticket OPS-1' });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body).toMatchObject({
      status: 'approved',
      decided_by: 'sam',
      reason: 'on-call ticket OPS-1',
      approvals: [{ approver: 'sam', reason: 'on-call ticket OPS-1', at: expect.any(String) }],
    });
    // Approval alone mints nothing: the credential is created when the agent collects it.
    expect((await leaseState(t, pending.leaseId)).state).toBe('pending_approval');

    const first = await collect(t, pending.approvalId, pending.agentToken);
    expect(first.status, first.text).toBe(201);
    expect(first.body).toMatchObject({
      lease_id: pending.leaseId,
      template: 'reports-admin',
      credential: { type: 'jwt' },
    });
    const claims = decodeJwt(first.body.credential.token);
    expect(claims).toMatchObject({ jti: pending.leaseId, scope: 'reports:admin', sub: 'agent-reports' });
    expect((await leaseState(t, pending.leaseId)).state).toBe('active');

    const second = await collect(t, pending.approvalId, pending.agentToken);
    expect(second.status).toBe(409);
    expect(second.headers.get('content-type')).toContain('application/problem+json');
    expect((await t.broker.approvals.get(pending.approvalId))?.status).toBe('collected');

    const intro = await t.request('POST', '/v1/introspect', { body: { token: first.body.credential.token } });
    expect(intro.body).toMatchObject({ active: true, scope: 'reports:admin' });
  });

  it('needs two distinct approvers when the policy says @approvals("2")', async () => {
    const pending = await requestStepUp(t, PURGE_REQUEST);
    const one = await approve(t, pending.approvalId, 'sam');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      status: 'pending',
      required_approvals: 2,
      approvals: [{ approver: 'sam' }],
    });
    expect((await collect(t, pending.approvalId, pending.agentToken)).status).toBe(200);

    // The same person again does not count twice.
    const again = await approve(t, pending.approvalId, 'sam');
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/already approved/);

    const two = await approve(t, pending.approvalId, 'riley', { reason: 'second pair of eyes' });
    expect(two.status).toBe(200);
    expect(two.body).toMatchObject({ status: 'approved', decided_by: 'riley' });
    expect(two.body.approvals.map((v: { approver: string }) => v.approver)).toEqual(['sam', 'riley']);
    expect(Date.parse(two.body.expires_at) - Date.parse(two.body.created_at)).toBe(600_000);

    const res = await collect(t, pending.approvalId, pending.agentToken);
    expect(res.status).toBe(201);
    expect(decodeJwt(res.body.credential.token).scope).toBe('reports:purge');
  });

  it('wakes a waiting collector as soon as the request is approved', async () => {
    const pending = await requestStepUp(t);
    const started = Date.now();
    const waiting = collect(t, pending.approvalId, pending.agentToken, 30);
    await vi.waitFor(() => expect(t.broker.stepUp.events.parked(pending.approvalId)).toBe(1));
    expect((await approve(t, pending.approvalId, 'sam')).status).toBe(200);
    const res = await waiting;
    expect(res.status).toBe(201);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('returns 200 pending once the wait runs out without a decision', async () => {
    const pending = await requestStepUp(t);
    const res = await collect(t, pending.approvalId, pending.agentToken, 1);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('pending');
    expect(t.broker.stepUp.events.parked(pending.approvalId)).toBe(0);
  });

  it("is denied with the reviewer's reason, which the agent receives as a 403", async () => {
    const pending = await requestStepUp(t);
    const waiting = collect(t, pending.approvalId, pending.agentToken, 30);
    await vi.waitFor(() => expect(t.broker.stepUp.events.parked(pending.approvalId)).toBe(1));
    const denied = await deny(t, pending.approvalId, 'sam', 'no ticket for this change');
    expect(denied.status).toBe(200);
    expect(denied.body).toMatchObject({
      status: 'denied',
      decided_by: 'sam',
      reason: 'no ticket for this change',
    });

    const res = await waiting;
    expect(res.status).toBe(403);
    expect(res.body.detail).toContain('no ticket for this change');
    expect(res.body.reasons).toEqual(['no ticket for this change']);
    expect(await leaseState(t, pending.leaseId)).toEqual({
      state: 'denied',
      revoke_reason: 'denied by a reviewer: no ticket for this change',
    });
    expect((await collect(t, pending.approvalId, pending.agentToken)).status).toBe(403);
  });

  it('lets a reviewer withdraw an approval before the credential is collected', async () => {
    const pending = await requestStepUp(t);
    expect((await approve(t, pending.approvalId, 'sam')).status).toBe(200);
    expect((await deny(t, pending.approvalId, 'riley', 'wrong environment')).status).toBe(200);
    expect((await collect(t, pending.approvalId, pending.agentToken)).status).toBe(403);
  });

  it('audits every review: request, votes, approval and collection', async () => {
    const pending = await requestStepUp(t, PURGE_REQUEST);
    await approve(t, pending.approvalId, 'sam');
    await approve(t, pending.approvalId, 'riley');
    await collect(t, pending.approvalId, pending.agentToken);
    const events = await auditEvents(t, pending.leaseId);
    expect(events).toEqual([
      { event: 'decision', actor: 'agent:agent-reports', decision: 'step_up' },
      { event: 'approval.requested', actor: 'agent:agent-reports', decision: 'step_up' },
      { event: 'approval.vote', actor: 'staff:sam', decision: 'approve' },
      { event: 'approval.vote', actor: 'staff:riley', decision: 'approve' },
      { event: 'approval.approved', actor: 'staff:riley', decision: 'allow' },
      { event: 'decision', actor: 'agent:agent-reports', decision: 'allow' },
      { event: 'lease.issued', actor: 'provider:jwt', decision: null },
      { event: 'approval.collected', actor: 'agent:agent-reports', decision: null },
    ]);
    const audit = await t.request('GET', `/v1/audit?lease_id=${pending.leaseId}`, {
      token: await t.staffToken('sam'),
    });
    expect(audit.status).toBe(200);
    expect(audit.body.items).toHaveLength(events.length);
  });

  it('renews an approved lease without asking again', async () => {
    const pending = await requestStepUp(t);
    await approve(t, pending.approvalId, 'sam');
    const issued = await collect(t, pending.approvalId, pending.agentToken);
    expect(issued.status).toBe(201);
    t.clock.advance(60);
    const token = await t.agentToken();
    const renewed = await t.request('POST', `/v1/leases/${pending.leaseId}/renew`, {
      token,
      body: { ttl_seconds: 600 },
    });
    expect(renewed.status, renewed.text).toBe(200);
    expect(Date.parse(renewed.body.expires_at)).toBeGreaterThan(Date.parse(issued.body.expires_at));
  });

  it('replays the same pending approval for the same Idempotency-Key', async () => {
    const headers = { 'idempotency-key': 'admin-run-1' };
    const first = await requestStepUp(t, undefined, { headers });
    const second = await requestStepUp(t, undefined, { headers });
    expect(second.approvalId).toBe(first.approvalId);
    expect(second.leaseId).toBe(first.leaseId);
  });

  it('pages through approvals with a cursor', async () => {
    const token = await t.staffToken('sam');
    const page1 = await t.request('GET', '/v1/approvals?limit=2', { token });
    expect(page1.status).toBe(200);
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.next_cursor).toEqual(expect.any(String));
    const page2 = await t.request('GET', `/v1/approvals?limit=2&cursor=${page1.body.next_cursor}`, { token });
    expect(page2.status).toBe(200);
    const ids = [...page1.body.items, ...page2.body.items].map((a: { approval_id: string }) => a.approval_id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
