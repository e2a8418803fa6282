// Retention: the sweeper deletes leases that finished longer ago than LEASE_RETENTION_DAYS and
// webhook delivery ids older than WEBHOOK_DELIVERY_RETENTION_SECONDS, in batches; live leases,
// recently finished ones and every audit row stay.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { claimDelivery } from '../../src/webhooks/delivery-store.js';
import { credentialRequest, startTestBroker, type TestBroker } from '../helpers/broker.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker({
    env: { LEASE_RETENTION_DAYS: '2', WEBHOOK_DELIVERY_RETENTION_SECONDS: '3600' },
  });
});
afterAll(async () => t?.close());

async function mint(agent: string, taskId: string) {
  const token = await t.agentToken(agent);
  const res = await t.request('POST', '/v1/credentials', {
    token,
    body: credentialRequest({}, { task_id: taskId }),
  });
  expect(res.status, res.text).toBe(201);
  return { token, leaseId: res.body.lease_id as string };
}

async function count(query: Promise<{ n: number }[]>): Promise<number> {
  const [row] = await query;
  return row?.n ?? -1;
}

describe('retention', () => {
  test('finished leases older than the retention age are deleted in batches; live and recent ones and all audit rows stay', async () => {
    const old = await mint('keeper', 'old-task');
    expect((await t.request('POST', `/v1/leases/${old.leaseId}/revoke`, { token: old.token })).status).toBe(
      200,
    );
    // 2,400 more leases that finished at the same moment: more than one batch of deletes.
    await t.database.sql`
      insert into leases
      select (jsonb_populate_record(l, jsonb_build_object('id', gen_random_uuid()))).*
      from leases l, generate_series(1, 2400) where l.id = ${old.leaseId}`;
    await claimDelivery(t.database.db, 'delivery-old', t.clock.now());
    t.clock.advance(2 * 86_400 - 60);
    const recent = await mint('keeper', 'recent-task');
    expect(
      (await t.request('POST', `/v1/leases/${recent.leaseId}/revoke`, { token: recent.token })).status,
    ).toBe(200);
    await claimDelivery(t.database.db, 'delivery-recent', t.clock.now());
    t.clock.advance(120);
    const live = await mint('keeper', 'live-task');
    const auditBefore = await count(t.database.sql`select count(*)::int as n from audit_events`);

    const report = await t.broker.sweeper.sweep();

    expect(report.pruned).toEqual({ leases: 2401, deliveries: 1 });
    expect(
      await count(t.database.sql`select count(*)::int as n from leases where task_id = 'old-task'`),
    ).toBe(0);
    const kept = await t.database.sql<
      { id: string; state: string }[]
    >`select id, state from leases order by state`;
    expect(kept).toEqual([
      { id: live.leaseId, state: 'active' },
      { id: recent.leaseId, state: 'revoked' },
    ]);
    expect(await count(t.database.sql`select count(*)::int as n from audit_events`)).toBe(auditBefore);
    const history = await t.request('GET', `/v1/audit?lease_id=${old.leaseId}`, {
      token: await t.staffToken('auditor'),
    });
    expect(history.status).toBe(200);
    expect(history.body.items.map((e: { event: string }) => e.event)).toContain('lease.revoked');
    const deliveries = await t.database.sql<
      { delivery_id: string }[]
    >`select delivery_id from webhook_deliveries`;
    expect(deliveries.map((d) => d.delivery_id)).toEqual(['delivery-recent']);
    // The old lease is gone for its agent too: a 404, like any unknown id.
    const agent = await t.agentToken('keeper');
    expect((await t.request('GET', `/v1/leases/${old.leaseId}`, { token: agent })).status).toBe(404);

    expect((await t.broker.sweeper.sweep()).pruned).toEqual({ leases: 0, deliveries: 0 });
  });
});
