import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_REQUEST,
  approve,
  auditEvents,
  collect,
  leaseState,
  type Pending,
  requestStepUp,
  startApprovalsBroker,
} from '../helpers/approvals.js';
import type { TestBroker } from '../helpers/broker.js';
import { webhookCalls } from '../helpers/webhooks.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startApprovalsBroker();
});
afterAll(async () => t?.close());

const { deliver: webhook } = webhookCalls(() => t);

const forTask = (taskId: string) => ({
  ...ADMIN_REQUEST,
  intent: { ...ADMIN_REQUEST.intent, task_id: taskId },
});

async function expectClosed(pending: Pending, reason: RegExp): Promise<void> {
  expect(await leaseState(t, pending.leaseId)).toEqual({
    state: 'denied',
    revoke_reason: expect.stringMatching(reason),
  });
  const collected = await collect(t, pending.approvalId, pending.agentToken);
  expect(collected.status, collected.text).toBe(403);
  expect(collected.body.credential).toBeUndefined();
  const events = (await auditEvents(t, pending.leaseId)).map((e) => e.event);
  expect(events).toContain('approval.denied');
  expect(events).toContain('lease.denied');
}

describe('an open step-up request', () => {
  it('is closed when an anomaly is reported for its agent, even after it was approved', async () => {
    const agent = 'agent-anomalous';
    const waiting = await requestStepUp(t, ADMIN_REQUEST, { agent });
    const approved = await requestStepUp(t, ADMIN_REQUEST, { agent });
    expect((await approve(t, approved.approvalId, 'sam')).status).toBe(200);
    const bystander = await requestStepUp(t, ADMIN_REQUEST, { agent: 'agent-bystander' });

    const res = await webhook('/v1/webhooks/anomaly', {
      agent,
      reason: 'exfiltration pattern',
      severity: 'high',
    });
    expect(res.status, res.text).toBe(200);

    await expectClosed(waiting, /exfiltration pattern/);
    await expectClosed(approved, /exfiltration pattern/);
    expect((await leaseState(t, bystander.leaseId)).state).toBe('pending_approval');
    const [row] = await t.database.sql<{ actor: string }[]>`
      select actor from audit_events where lease_id = ${waiting.leaseId} and event = 'approval.denied'`;
    expect(row?.actor).toBe('webhook:anomaly');
  });

  it('is closed when an anomaly names its lease id', async () => {
    const pending = await requestStepUp(t, ADMIN_REQUEST, { agent: 'agent-lease-flagged' });
    const res = await webhook('/v1/webhooks/anomaly', {
      lease_id: pending.leaseId,
      reason: 'odd source ip',
      severity: 'medium',
    });
    expect(res.status, res.text).toBe(200);
    await expectClosed(pending, /odd source ip/);
  });

  it("is closed when its agent completes the task, and only that task's requests are", async () => {
    const agent = 'agent-finishing';
    const done = await requestStepUp(t, forTask('t-done'), { agent });
    const other = await requestStepUp(t, forTask('t-other'), { agent });

    const res = await t.request('POST', '/v1/tasks/t-done/complete', { token: done.agentToken });
    expect(res.status, res.text).toBe(200);

    await expectClosed(done, /task completed/);
    expect((await leaseState(t, other.leaseId)).state).toBe('pending_approval');
  });

  it('is closed when the task-completed webhook reports its task', async () => {
    const agent = 'agent-ci-job';
    const pending = await requestStepUp(t, forTask('t-ci-77'), { agent });
    const res = await webhook('/v1/webhooks/task-completed', { task_id: 't-ci-77', agent });
    expect(res.status, res.text).toBe(200);
    await expectClosed(pending, /task completed/);
  });

  it('is closed when the agent revokes its own pending lease', async () => {
    const pending = await requestStepUp(t, ADMIN_REQUEST, { agent: 'agent-changed-mind' });
    const res = await t.request('POST', `/v1/leases/${pending.leaseId}/revoke`, {
      token: pending.agentToken,
    });
    expect(res.status, res.text).toBe(200);
    await expectClosed(pending, /revoked by the agent/);
    const review = await approve(t, pending.approvalId, 'sam');
    expect(review.status, review.text).toBe(409);
  });

  it('collected after the agent withdrew it, says so: not "denied by a reviewer"', async () => {
    const pending = await requestStepUp(t, forTask('t-withdrawn-by-agent'), { agent: 'agent-withdrew' });
    await t.request('POST', `/v1/leases/${pending.leaseId}/revoke`, { token: pending.agentToken });
    const collected = await collect(t, pending.approvalId, pending.agentToken);
    expect(collected.status).toBe(403);
    expect(collected.body.detail).toBe('withdrawn by the agent: revoked by the agent');
    expect(collected.body.detail).not.toMatch(/reviewer/);
  });

  it('collected after an anomaly report withdrew it, names the report, not a reviewer', async () => {
    const pending = await requestStepUp(t, forTask('t-withdrawn-by-anomaly'), { agent: 'agent-anomalous-2' });
    const res = await webhook('/v1/webhooks/anomaly', {
      agent: 'agent-anomalous-2',
      reason: 'token replay seen',
      severity: 'high',
    });
    expect(res.status, res.text).toBe(200);
    const collected = await collect(t, pending.approvalId, pending.agentToken);
    expect(collected.status).toBe(403);
    expect(collected.body.detail).toMatch(/^withdrawn \(webhook:anomaly\): .*token replay seen/);
  });

  it('denied by a reviewer still says so', async () => {
    const pending = await requestStepUp(t, forTask('t-denied-by-sam'), { agent: 'agent-denied' });
    const deny = await t.request('POST', `/v1/approvals/${pending.approvalId}/deny`, {
      token: await t.staffToken('sam'),
      body: { reason: 'not during the freeze' },
    });
    expect(deny.status, deny.text).toBe(200);
    expect((await collect(t, pending.approvalId, pending.agentToken)).body.detail).toBe(
      'denied by a reviewer: not during the freeze',
    );
  });
});
