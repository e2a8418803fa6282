// The security staff's lease API: list leases with every filter and page through them, revoke
// leases in bulk (by agent, task or template, with counts), audited as one staff request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_REQUEST, approve, collect, leaseState, requestStepUp } from '../../helpers/approvals.js';
import type { TestBroker } from '../../helpers/broker.js';
import { staffCalls, startStaffApiBroker } from '../../helpers/staff-api.js';

let t: TestBroker;
let staff: string;
beforeAll(async () => {
  ({ t, staff } = await startStaffApiBroker());
});
afterAll(async () => t?.close());

const { mint, introspect, allPages } = staffCalls(() => ({ t, staff }));

describe('GET /v1/leases', () => {
  it('filters by agent, task_id, state and template, alone and together, never showing a secret', async () => {
    const agent = 'agent-leases-filter';
    const a = await mint(agent, 't-filter-1');
    const b = await mint(agent, 't-filter-2');
    const other = await mint('agent-leases-other', 't-filter-1');
    const waiting = await requestStepUp(t, ADMIN_REQUEST, { agent });
    const revoked = await mint(agent, 't-filter-3');
    expect(
      (await t.request('POST', `/v1/leases/${revoked.lease_id}/revoke`, { token: await t.agentToken(agent) }))
        .status,
    ).toBe(200);

    const ids = async (query: string) =>
      (await allPages(`/v1/leases?${query}`)).items.map((i) => i.lease_id).sort();
    const sorted = (...list: string[]) => [...list].sort();

    expect(await ids(`agent=${agent}`)).toEqual(
      sorted(a.lease_id, b.lease_id, waiting.leaseId, revoked.lease_id),
    );
    expect(await ids(`agent=${agent}&task_id=t-filter-1`)).toEqual([a.lease_id]);
    expect(await ids('task_id=t-filter-1')).toEqual(sorted(a.lease_id, other.lease_id));
    expect(await ids(`agent=${agent}&state=active`)).toEqual(sorted(a.lease_id, b.lease_id));
    expect(await ids(`agent=${agent}&state=pending_approval`)).toEqual([waiting.leaseId]);
    expect(await ids(`agent=${agent}&state=revoked`)).toEqual([revoked.lease_id]);
    expect(await ids(`agent=${agent}&template=reports-admin`)).toEqual([waiting.leaseId]);
    expect(await ids(`agent=${agent}&template=reports-api&state=active`)).toEqual(
      sorted(a.lease_id, b.lease_id),
    );
    expect(await ids('agent=nobody-at-all')).toEqual([]);

    const res = await t.request('GET', `/v1/leases?agent=${agent}&task_id=t-filter-1`, { token: staff });
    expect(res.body.items[0]).toMatchObject({
      lease_id: a.lease_id,
      state: 'active',
      agent,
      agent_issuer: 'test',
      template: 'reports-api',
      provider: 'jwt',
      intent: { task_id: 't-filter-1', actions: ['reports:read'] },
    });
    expect(res.text).not.toContain(a.credential.token);
    expect(res.body.items[0]).not.toHaveProperty('credential');
  });

  it('pages newest first with a cursor, without repeats or gaps', async () => {
    const agent = 'agent-leases-paging';
    const minted = [];
    for (let i = 0; i < 5; i++) {
      minted.push((await mint(agent, `t-page-${i}`)).lease_id);
      t.clock.advance(1);
    }
    const { items, pages } = await allPages(`/v1/leases?agent=${agent}&limit=2`, async () => {
      t.clock.advance(1);
      await mint(agent, 't-page-late');
    });
    expect(pages).toBe(3);
    expect(items.map((i) => i.lease_id)).toEqual([...minted].reverse());
  });
});

describe('POST /v1/leases/revoke', () => {
  it('revokes more leases than one SQL statement takes parameters (70,000), in one request', async () => {
    const agent = 'agent-fleet';
    const first = await mint(agent, 't-fleet');
    // Copies of a real lease row, each with its own id and jti.
    await t.database.sql.unsafe(
      `insert into leases (id, state, template, provider, agent, agent_issuer, task_id, intent, "grant", revocation,
         policy_version, policies, requested_ttl_seconds, created_at, issued_at, expires_at, max_expires_at, updated_at)
       select g.id, state, template, provider, agent, agent_issuer, task_id, intent, "grant",
              jsonb_build_object('jti', g.id::text), policy_version, policies, requested_ttl_seconds,
              created_at, issued_at, expires_at, max_expires_at, updated_at
       from leases, (select gen_random_uuid() as id from generate_series(1, 69999)) g
       where leases.id = $1`,
      [first.lease_id],
    );
    const res = await t.request('POST', '/v1/leases/revoke', {
      token: staff,
      body: { agent, reason: 'fleet key rotation' },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.revoked).toHaveLength(70_000);
    expect(res.body.counts).toEqual({ revoked: 70_000, revoking: 0, approvals_denied: 0 });
    const [left] = await t.database.sql<{ n: number }[]>`
      select count(*)::int as n from leases where agent = ${agent} and state <> 'revoked'`;
    expect(left!.n).toBe(0);
    expect(await introspect(first.credential.token)).toEqual({ active: false });
  });

  it("revokes every live lease of an agent and closes its open step-up requests, with counts, and nobody else's", async () => {
    const agent = 'agent-compromised';
    const one = await mint(agent, 't-bulk-1');
    const two = await mint(agent, 't-bulk-2');
    const bystander = await mint('agent-bystander', 't-bulk-1');
    const waiting = await requestStepUp(t, ADMIN_REQUEST, { agent });
    const approvedNotCollected = await requestStepUp(t, ADMIN_REQUEST, { agent });
    expect((await approve(t, approvedNotCollected.approvalId, 'sam')).status).toBe(200);

    const res = await t.request('POST', '/v1/leases/revoke', {
      token: staff,
      body: { agent, reason: 'token leaked in CI logs' },
    });
    expect(res.status, res.text).toBe(200);
    expect([...res.body.revoked].sort()).toEqual([one.lease_id, two.lease_id].sort());
    expect([...res.body.approvals_denied].sort()).toEqual(
      [waiting.approvalId, approvedNotCollected.approvalId].sort(),
    );
    expect(res.body.counts).toEqual({ revoked: 2, revoking: 0, approvals_denied: 2 });

    expect(await introspect(one.credential.token)).toEqual({ active: false });
    expect(await introspect(two.credential.token)).toEqual({ active: false });
    expect((await introspect(bystander.credential.token)).active).toBe(true);
    expect(await leaseState(t, one.lease_id)).toEqual({
      state: 'revoked',
      revoke_reason: 'token leaked in CI logs',
    });

    // A request approved before the revoke can no longer be collected.
    const token = await t.agentToken(agent);
    for (const pending of [waiting, approvedNotCollected]) {
      const collected = await collect(t, pending.approvalId, token);
      expect(collected.status).toBe(403);
      expect(collected.body.reasons).toEqual(['token leaked in CI logs']);
      expect((await leaseState(t, pending.leaseId)).state).toBe('denied');
    }

    const again = await t.request('POST', '/v1/leases/revoke', {
      token: staff,
      body: { agent, reason: 'again' },
    });
    expect(again.body).toEqual({
      revoked: [],
      approvals_denied: [],
      counts: { revoked: 0, revoking: 0, approvals_denied: 0 },
    });
  });

  it('revokes by task_id and by template', async () => {
    const byTask = await mint('agent-task-a', 't-bulk-task');
    const sameTaskOtherAgent = await mint('agent-task-b', 't-bulk-task');
    const otherTask = await mint('agent-task-a', 't-bulk-other');
    const res = await t.request('POST', '/v1/leases/revoke', {
      token: staff,
      body: { task_id: 't-bulk-task', reason: 'task aborted' },
    });
    expect(res.status).toBe(200);
    expect([...res.body.revoked].sort()).toEqual([byTask.lease_id, sameTaskOtherAgent.lease_id].sort());
    expect((await introspect(otherTask.credential.token)).active).toBe(true);

    const purge = await requestStepUp(
      t,
      { ...ADMIN_REQUEST, intent: { ...ADMIN_REQUEST.intent, task_id: 't-bulk-template' } },
      {
        agent: 'agent-template',
      },
    );
    const byTemplate = await t.request('POST', '/v1/leases/revoke', {
      token: staff,
      body: { template: 'reports-admin', reason: 'admin scope withdrawn' },
    });
    expect(byTemplate.status).toBe(200);
    expect(byTemplate.body.approvals_denied).toContain(purge.approvalId);
    expect((await introspect(otherTask.credential.token)).active).toBe(true);
  });

  it('is audited as one request by the staff member, beside a row per lease, even when nothing matched', async () => {
    const lease = await mint('agent-audited', 't-audited');
    const res = await t.request('POST', '/v1/leases/revoke', {
      token: staff,
      body: { agent: 'agent-audited', reason: 'rotation drill' },
      headers: { 'x-request-id': 'bulk-audited-1' },
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id');
    const rows = await t.database.sql<
      { event: string; actor: string; lease_id: string | null; detail: Record<string, unknown> }[]
    >`
      select event, actor, lease_id, detail from audit_events where request_id = ${requestId} order by id`;
    expect(rows).toEqual([
      {
        event: 'leases.bulk_revoke',
        actor: 'staff:sec-lead',
        lease_id: null,
        detail: { filter: { agent: 'agent-audited' } },
      },
      expect.objectContaining({ event: 'lease.revoked', actor: 'staff:sec-lead', lease_id: lease.lease_id }),
    ]);

    const none = await t.request('POST', '/v1/leases/revoke', {
      token: staff,
      body: { template: 'no-such-template', reason: 'drill' },
    });
    expect(none.status).toBe(200);
    expect(none.body.counts).toEqual({ revoked: 0, revoking: 0, approvals_denied: 0 });
    const [row] = await t.database.sql<{ event: string }[]>`
      select event from audit_events where request_id = ${none.headers.get('x-request-id')}`;
    expect(row?.event).toBe('leases.bulk_revoke');
  });
});
