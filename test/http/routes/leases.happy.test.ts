// An agent's own leases that work: revoke (twice is harmless, audited), renew within the max TTL,
// complete a task.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { agentLeaseCalls } from '../../helpers/leases.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

const { mint, introspect } = agentLeaseCalls(() => t);

describe('POST /v1/leases/{id}/revoke', () => {
  test('revokes now: the lease says revoked and introspection answers only active:false', async () => {
    const { token, lease } = await mint('revoker-1');
    expect((await introspect(lease.credential.token)).active).toBe(true);
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/revoke`, { token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      lease_id: lease.lease_id,
      state: 'revoked',
      revoke_reason: 'revoked by the agent',
    });
    expect(res.body.revoked_at).toEqual(expect.any(String));
    expect(await introspect(lease.credential.token)).toEqual({ active: false });
  });

  test('revoking twice is harmless', async () => {
    const { token, lease } = await mint('revoker-2');
    await t.request('POST', `/v1/leases/${lease.lease_id}/revoke`, { token });
    const again = await t.request('POST', `/v1/leases/${lease.lease_id}/revoke`, { token });
    expect(again.status).toBe(200);
    expect(again.body.state).toBe('revoked');
  });

  test('revocation is audited with the reason', async () => {
    const { token, lease } = await mint('revoker-4');
    await t.request('POST', `/v1/leases/${lease.lease_id}/revoke`, { token });
    const rows = await t.database
      .sql`select event, actor, detail from audit_events where lease_id = ${lease.lease_id} order by id`;
    expect(rows.map((r) => r.event)).toEqual(['decision', 'lease.issued', 'lease.revoked']);
    expect(rows[2]).toMatchObject({ actor: 'agent:revoker-4', detail: { reason: 'revoked by the agent' } });
  });
});

describe('POST /v1/leases/{id}/renew', () => {
  test('extends the lease and returns a fresh token with the same jti and the new expiry', async () => {
    const { token, lease } = await mint('renewer-1', {}, 120);
    t.clock.advance(60);
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/renew`, {
      token,
      body: { ttl_seconds: 300 },
    });
    expect(res.status).toBe(200);
    expect(Date.parse(res.body.expires_at)).toBeGreaterThan(Date.parse(lease.expires_at));
    expect(res.body.credential.type).toBe('jwt');
    const payload = JSON.parse(Buffer.from(res.body.credential.token.split('.')[1], 'base64url').toString());
    expect(payload.jti).toBe(lease.lease_id);
    expect(payload.exp).toBe(Date.parse(res.body.expires_at) / 1000);
  });

  test('never extends past the max TTL measured from issue time', async () => {
    // Template max_ttl is 15 min and @max_ttl caps at 10 min: the lease can never outlive issue + 10 min.
    const { lease } = await mint('renewer-2', {}, 300);
    const issuedAt = Date.parse(lease.expires_at) - 300_000;
    for (let i = 0; i < 2; i++) {
      t.clock.advance(240);
      // A fresh identity token each time: the workload's own token is short-lived too.
      const token = await t.agentToken('renewer-2');
      const res = await t.request('POST', `/v1/leases/${lease.lease_id}/renew`, {
        token,
        body: { ttl_seconds: 600 },
      });
      expect(res.status).toBe(200);
      expect(Date.parse(res.body.expires_at)).toBeLessThanOrEqual(issuedAt + 600_000);
    }
  });
});

describe('POST /v1/tasks/{task_id}/complete', () => {
  test('revokes every live lease of the task for this agent, and only those', async () => {
    const a1 = await mint('worker-1', { task_id: 'job-9' });
    const a2 = await mint('worker-1', { task_id: 'job-9' });
    const otherTask = await mint('worker-1', { task_id: 'job-10' });
    const otherAgent = await mint('worker-2', { task_id: 'job-9' });
    const res = await t.request('POST', '/v1/tasks/job-9/complete', { token: a1.token });
    expect(res.status).toBe(200);
    expect(res.body.task_id).toBe('job-9');
    expect([...res.body.revoked].sort()).toEqual([a1.lease.lease_id, a2.lease.lease_id].sort());
    expect((await introspect(a2.lease.credential.token)).active).toBe(false);
    expect((await introspect(otherTask.lease.credential.token)).active).toBe(true);
    expect((await introspect(otherAgent.lease.credential.token)).active).toBe(true);
    expect(res.body).toMatchObject({ count: 2, truncated: false });
    const again = await t.request('POST', '/v1/tasks/job-9/complete', { token: a1.token });
    expect(again.body).toMatchObject({ revoked: [], count: 0, truncated: false });
  });

  test('a task of thousands of leases answers with their count and the first 1000 ids, not all of them', async () => {
    const first = await mint('bulk-worker', { task_id: 'job-big' });
    // 1,204 more live leases of the same task, copied from the real one in one statement.
    await t.database.sql`
      insert into leases
      select (jsonb_populate_record(l, jsonb_build_object('id', gen_random_uuid()))).*
      from leases l, generate_series(1, 1204) where l.id = ${first.lease.lease_id}`;
    const res = await t.request('POST', '/v1/tasks/job-big/complete', { token: first.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ task_id: 'job-big', count: 1205, truncated: true });
    expect(res.body.revoked).toHaveLength(1000);
    expect(new Set(res.body.revoked).size).toBe(1000);
    const [row] = await t.database.sql<{ live: number }[]>`
      select count(*)::int as live from leases where task_id = 'job-big' and state = 'active'`;
    expect(row?.live).toBe(0);
  });
});
