// The staff's list of step-up requests: filtered by status and paged with a cursor, stable while
// new requests arrive. (Deciding and collecting are tested in test/approvals/.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_REQUEST, approve, deny, requestStepUp } from '../../helpers/approvals.js';
import type { TestBroker } from '../../helpers/broker.js';
import { staffCalls, startStaffApiBroker } from '../../helpers/staff-api.js';

let t: TestBroker;
let staff: string;
beforeAll(async () => {
  ({ t, staff } = await startStaffApiBroker());
});
afterAll(async () => t?.close());

const { allPages } = staffCalls(() => ({ t, staff }));

describe('GET /v1/approvals', () => {
  it('filters by status and pages with a cursor, stable while new requests arrive', async () => {
    const agent = 'agent-approvals-list';
    const pending = [];
    for (let i = 0; i < 5; i++) {
      pending.push(await requestStepUp(t, ADMIN_REQUEST, { agent }));
      t.clock.advance(1);
    }
    const denied = await requestStepUp(t, ADMIN_REQUEST, { agent });
    expect((await deny(t, denied.approvalId, 'sam', 'not today')).status).toBe(200);
    const approved = await requestStepUp(t, ADMIN_REQUEST, { agent });
    expect((await approve(t, approved.approvalId, 'sam')).status).toBe(200);

    const byStatus = async (status: string) =>
      (await allPages(`/v1/approvals?status=${status}&limit=100`)).items.map((i) => [
        i.approval_id,
        i.status,
      ]);
    expect(await byStatus('denied')).toContainEqual([denied.approvalId, 'denied']);
    expect((await byStatus('denied')).every(([, s]) => s === 'denied')).toBe(true);
    expect(await byStatus('approved')).toContainEqual([approved.approvalId, 'approved']);
    expect((await byStatus('approved')).every(([, s]) => s === 'approved')).toBe(true);

    const existing = (await allPages('/v1/approvals?status=pending&limit=500')).items.map(
      (i) => i.approval_id,
    );
    expect(existing).toEqual(expect.arrayContaining(pending.map((p) => p.approvalId)));
    // Newer requests arrive between pages: they belong before page one, so no page repeats or skips one.
    const { items, pages } = await allPages('/v1/approvals?status=pending&limit=2', async () => {
      t.clock.advance(1);
      await requestStepUp(t, ADMIN_REQUEST, { agent });
    });
    expect(pages).toBeGreaterThan(2);
    expect(items.map((i) => i.approval_id)).toEqual(existing);
  });
});
