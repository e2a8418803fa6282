// Step-up approvals that are refused: expiry, decisions on closed requests, bad input, and a
// forbid that still wins after the reviewers approved.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APPROVAL_POLICIES,
  APPROVAL_TEMPLATES,
  approve,
  auditEvents,
  collect,
  deny,
  FREEZE_POLICY,
  leaseState,
  PURGE_REQUEST,
  requestStepUp,
  startApprovalsBroker,
} from '../helpers/approvals.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startApprovalsBroker();
});
afterAll(async () => t?.close());

describe('an approval request nobody decides', () => {
  it('expires after 15 minutes by default: the sweeper denies the lease with "approval expired"', async () => {
    const pending = await requestStepUp(t);
    t.clock.advance(899);
    await t.broker.sweeper.sweep();
    expect((await leaseState(t, pending.leaseId)).state).toBe('pending_approval');

    t.clock.advance(1);
    const report = await t.broker.sweeper.sweep();
    expect(report.extra.approvals).toBeGreaterThanOrEqual(1);
    expect(await leaseState(t, pending.leaseId)).toEqual({
      state: 'denied',
      revoke_reason: 'approval expired',
    });
    expect((await t.broker.approvals.get(pending.approvalId))?.status).toBe('expired');

    const res = await collect(t, pending.approvalId, await t.agentToken());
    expect(res.status).toBe(403);
    expect(res.body.detail).toBe('approval expired');
    expect(res.body.reasons).toEqual(['approval expired']);

    const late = await approve(t, pending.approvalId, 'sam');
    expect(late.status).toBe(409);
    const events = (await auditEvents(t, pending.leaseId)).map((e) => `${e.event}:${e.actor}`);
    expect(events).toEqual(expect.arrayContaining(['approval.expired:sweeper', 'lease.denied:sweeper']));
  });

  it('honours @approval_ttl and expires when the agent asks after the window, before any sweep', async () => {
    const pending = await requestStepUp(t, PURGE_REQUEST);
    t.clock.advance(600);
    const res = await collect(t, pending.approvalId, await t.agentToken());
    expect(res.status).toBe(403);
    expect(res.body.detail).toBe('approval expired');
    expect(await leaseState(t, pending.leaseId)).toEqual({
      state: 'denied',
      revoke_reason: 'approval expired',
    });
  });

  it('cannot be approved once its window has passed', async () => {
    const pending = await requestStepUp(t);
    t.clock.advance(900);
    const res = await approve(t, pending.approvalId, 'sam');
    expect(res.status).toBe(409);
    expect(res.body.detail).toMatch(/expired/);
    expect((await leaseState(t, pending.leaseId)).state).toBe('denied');
  });

  it('expires an approved request the agent never collects, after a second window', async () => {
    const pending = await requestStepUp(t);
    expect((await approve(t, pending.approvalId, 'sam')).status).toBe(200);
    t.clock.advance(900);
    await t.broker.sweeper.sweep();
    expect((await t.broker.approvals.get(pending.approvalId))?.status).toBe('expired');
    expect((await leaseState(t, pending.leaseId)).state).toBe('denied');
    expect((await collect(t, pending.approvalId, await t.agentToken())).status).toBe(403);
  });
});

describe('decisions on a closed request', () => {
  it('refuses to approve or deny twice', async () => {
    const pending = await requestStepUp(t);
    expect((await deny(t, pending.approvalId, 'sam', 'not now')).status).toBe(200);
    expect((await approve(t, pending.approvalId, 'riley')).status).toBe(409);
    expect((await deny(t, pending.approvalId, 'riley', 'again')).status).toBe(409);
  });

  it('refuses to deny once the credential was collected', async () => {
    const pending = await requestStepUp(t);
    await approve(t, pending.approvalId, 'sam');
    expect((await collect(t, pending.approvalId, pending.agentToken)).status).toBe(201);
    expect((await deny(t, pending.approvalId, 'riley', 'too late')).status).toBe(409);
  });
});

describe('bad input', () => {
  it('requires a reason to deny', async () => {
    const pending = await requestStepUp(t);
    const token = await t.staffToken('sam');
    for (const body of [{}, { reason: '' }, { reason: '   ' }]) {
      const res = await t.request('POST', `/v1/approvals/${pending.approvalId}/deny`, { token, body });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toBe('reason');
    }
  });

  it('rejects unknown fields in a review', async () => {
    const pending = await requestStepUp(t);
    const res = await approve(t, pending.approvalId, 'sam', { reason: 'ok', approvals: 5 });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'approvals', message: 'unknown field' }]);
  });

  it('approves without a body', async () => {
    const pending = await requestStepUp(t);
    const res = await t.request('POST', `/v1/approvals/${pending.approvalId}/approve`, {
      token: await t.staffToken('sam'),
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.reason).toBeNull();
  });

  it('bounds the long-poll to 60 seconds', async () => {
    const pending = await requestStepUp(t);
    for (const wait of ['61', '-1', 'soon']) {
      const res = await t.request('GET', `/v1/approvals/${pending.approvalId}?wait=${wait}`, {
        token: pending.agentToken,
      });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toBe('query.wait');
    }
  });

  it('answers 404 for unknown and malformed approval ids', async () => {
    const token = await t.agentToken();
    const staff = await t.staffToken('sam');
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      expect((await t.request('GET', `/v1/approvals/${id}`, { token })).status).toBe(404);
      expect(
        (await t.request('POST', `/v1/approvals/${id}/approve`, { token: staff, body: {} })).status,
      ).toBe(404);
      expect(
        (await t.request('POST', `/v1/approvals/${id}/deny`, { token: staff, body: { reason: 'x' } })).status,
      ).toBe(404);
    }
  });

  it('rejects an unknown status filter', async () => {
    const res = await t.request('GET', '/v1/approvals?status=maybe', { token: await t.staffToken('sam') });
    expect(res.status).toBe(400);
  });
});

describe('a forbid after approval', () => {
  it('still wins when the policy changes before the quorum: the approval ends denied, naming the policy', async () => {
    const pending = await requestStepUp(t);
    await writeFile(path.join(t.policyDir, 'freeze.cedar'), FREEZE_POLICY['freeze.cedar']);
    try {
      expect((await t.policies.reload()).ok).toBe(true);
      const res = await approve(t, pending.approvalId, 'sam');
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('denied');
      expect(res.body.reason).toContain('change-freeze');
      expect(res.body.decided_by).toBeNull();

      const collected = await collect(t, pending.approvalId, pending.agentToken);
      expect(collected.status).toBe(403);
      expect(collected.body.policies).toEqual(['change-freeze']);
      expect(collected.body.reasons).toEqual([expect.stringContaining('administrative changes are frozen')]);
      expect((await leaseState(t, pending.leaseId)).state).toBe('denied');
    } finally {
      await unfreeze(t);
    }
  });

  it('still wins when the policy changes between approval and collection', async () => {
    const pending = await requestStepUp(t);
    expect((await approve(t, pending.approvalId, 'sam')).body.status).toBe('approved');
    await writeFile(path.join(t.policyDir, 'freeze.cedar'), FREEZE_POLICY['freeze.cedar']);
    try {
      expect((await t.policies.reload()).ok).toBe(true);
      const collected = await collect(t, pending.approvalId, pending.agentToken);
      expect(collected.status).toBe(403);
      expect(collected.body.policies).toEqual(['change-freeze']);
      expect((await leaseState(t, pending.leaseId)).state).toBe('denied');
      expect((await t.broker.approvals.get(pending.approvalId))?.status).toBe('denied');
    } finally {
      await unfreeze(t);
    }
  });

  it('wins when a forbid names context.approved itself', async () => {
    const strict = await startTestBroker({
      database: t.database,
      issuers: { workload: t.issuer, staff: t.staffIssuer },
      clock: t.clock,
      templates: APPROVAL_TEMPLATES,
      policies: {
        ...APPROVAL_POLICIES,
        'no-approved-purge.cedar': `@id("approved-purge-never")
forbid (principal, action, resource == Template::"reports-purge") when { context.approved };
`,
      },
    });
    try {
      const pending = await requestStepUp(strict, PURGE_REQUEST);
      await approve(strict, pending.approvalId, 'sam');
      const res = await approve(strict, pending.approvalId, 'riley');
      expect(res.body.status).toBe('denied');
      const collected = await collect(strict, pending.approvalId, pending.agentToken);
      expect(collected.status).toBe(403);
      expect(collected.body.policies).toEqual(['approved-purge-never']);
    } finally {
      await strict.close();
    }
  });
});

async function unfreeze(broker: TestBroker): Promise<void> {
  await writeFile(path.join(broker.policyDir, 'freeze.cedar'), '// no freeze\n');
  expect((await broker.policies.reload()).ok).toBe(true);
}
