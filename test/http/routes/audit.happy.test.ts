// The staff's audit trail: paged newest first while new events arrive, filtered by lease, agent and
// time, every review of a step-up request shown, sealed events exported in chain order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealAuditLog } from '../../../src/audit/audit-log.js';
import { ADMIN_REQUEST, deny, requestStepUp } from '../../helpers/approvals.js';
import type { TestBroker } from '../../helpers/broker.js';
import { staffCalls, startStaffApiBroker } from '../../helpers/staff-api.js';

let t: TestBroker;
let staff: string;
beforeAll(async () => {
  ({ t, staff } = await startStaffApiBroker());
});
afterAll(async () => t?.close());

const { mint, allPages } = staffCalls(() => ({ t, staff }));

describe('GET /v1/audit', () => {
  it('pages newest first without duplicates or gaps while new events arrive', async () => {
    const agent = 'agent-audit-paging';
    for (let i = 0; i < 4; i++) await mint(agent, `t-audit-${i}`);
    const before = await t.database.sql<{ id: string }[]>`
      select id::text from audit_events where agent = ${agent} order by id desc`;
    expect(before.length).toBeGreaterThanOrEqual(8);

    const { items, pages } = await allPages(`/v1/audit?agent=${agent}&limit=3`, async () => {
      await mint(agent, 't-audit-late');
    });
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(items.map((i) => String(i.id))).toEqual(before.map((r) => r.id));
  });

  it('filters by lease_id, agent and since', async () => {
    const agent = 'agent-audit-filter';
    const first = await mint(agent, 't-audit-filter');
    t.clock.advance(60);
    const since = t.clock.now().toISOString();
    const second = await mint(agent, 't-audit-filter');

    const byLease = await allPages(`/v1/audit?lease_id=${first.lease_id}`);
    expect(byLease.items.map((i) => i.event)).toEqual(['lease.issued', 'decision']);
    expect(byLease.items.every((i) => i.lease_id === first.lease_id)).toBe(true);

    const bySince = await allPages(`/v1/audit?agent=${agent}&since=${encodeURIComponent(since)}`);
    expect(new Set(bySince.items.map((i) => i.lease_id))).toEqual(new Set([second.lease_id]));
    expect((await allPages(`/v1/audit?agent=${agent}`)).items).toHaveLength(4);
  });

  it('shows every review of a step-up request: votes, refusals and the denial, with who and why', async () => {
    const pending = await requestStepUp(t, ADMIN_REQUEST, { agent: 'agent-audit-review' });
    expect(
      (
        await t.request('POST', `/v1/approvals/${pending.approvalId}/approve`, {
          token: await t.staffToken('casey', ['engineering']),
          body: {},
        })
      ).status,
    ).toBe(403);
    expect((await deny(t, pending.approvalId, 'sam', 'no change ticket')).status).toBe(200);
    const { items } = await allPages(`/v1/audit?lease_id=${pending.leaseId}`);
    expect(items.reverse().map((i) => [i.event, i.actor, i.decision, i.reasons])).toEqual([
      ['decision', 'agent:agent-audit-review', 'step_up', []],
      ['approval.requested', 'agent:agent-audit-review', 'step_up', null],
      [
        'approval.refused',
        'staff:casey',
        'refused',
        ['only members of "security-oncall" may approve this request'],
      ],
      ['approval.denied', 'staff:sam', 'deny', ['no change ticket']],
      ['lease.denied', 'staff:sam', 'deny', ['no change ticket']],
    ]);
    expect(
      items.every(
        (i) =>
          (i.detail as { approval_id: string } | null)?.approval_id === pending.approvalId ||
          i.event === 'decision',
      ),
    ).toBe(true);
  });

  it('exports sealed events in chain order with after_seq, continuing from next_after_seq', async () => {
    const agent = 'agent-audit-export';
    // Earlier tests leave thousands of rows unsealed: seal them all, whatever a sweep's budget.
    const sealAll = async () => {
      while ((await sealAuditLog(t.database.sql, { batchSize: 10_000 })) > 0);
    };
    await mint(agent, 't-audit-export-1');
    await sealAll();
    const first = await t.request('GET', `/v1/audit?agent=${agent}&after_seq=0`, { token: staff });
    expect(first.status, first.text).toBe(200);
    const seqs = first.body.items.map((i: { seq: number }) => i.seq);
    expect(seqs.length).toBe(2);
    expect(seqs).toEqual([...seqs].sort((a: number, b: number) => a - b));
    expect(first.body.next_after_seq).toBe(seqs.at(-1));

    await mint(agent, 't-audit-export-2');
    await sealAll();
    const next = await t.request('GET', `/v1/audit?agent=${agent}&after_seq=${first.body.next_after_seq}`, {
      token: staff,
    });
    expect(next.body.items.map((i: { event: string }) => i.event)).toEqual(['decision', 'lease.issued']);
    expect(next.body.items[0].seq).toBeGreaterThan(first.body.next_after_seq);

    for (const query of ['after_seq=-1', 'after_seq=abc', 'after_seq=1.5', 'after_seq=1&cursor=MQ']) {
      const bad = await t.request('GET', `/v1/audit?${query}`, { token: staff });
      expect(bad.status, query).toBe(400);
      expect(bad.body.type, query).toBe('urn:jit-broker:problem:validation');
    }
  });
});
