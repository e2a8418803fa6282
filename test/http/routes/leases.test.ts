// An agent's own leases: read, renew, revoke, complete a task. Someone else's lease is a 404.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { credentialRequest, startTestBroker, type TestBroker } from '../../helpers/broker.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

async function mint(agent: string, intent: Record<string, unknown> = {}, ttl?: number) {
  const token = await t.agentToken(agent);
  const res = await t.request('POST', '/v1/credentials', {
    token,
    body: credentialRequest(ttl ? { ttl_seconds: ttl } : {}, intent),
  });
  expect(res.status).toBe(201);
  return {
    token,
    lease: res.body as { lease_id: string; expires_at: string; credential: { token: string } },
  };
}

async function introspect(token: string) {
  return (
    await t.request('POST', '/v1/introspect', {
      body: `token=${token}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
  ).body;
}

describe('GET /v1/leases/{id}', () => {
  test("another agent's lease is a 404, indistinguishable from a lease that does not exist", async () => {
    const { lease } = await mint('owner-1');
    const stranger = await t.agentToken('stranger-1');
    const theirs = await t.request('GET', `/v1/leases/${lease.lease_id}`, { token: stranger });
    const none = await t.request('GET', '/v1/leases/00000000-0000-4000-8000-000000000000', {
      token: stranger,
    });
    expect(theirs.status).toBe(404);
    expect(none.status).toBe(404);
    expect(theirs.headers.get('content-type')).toBe('application/problem+json');
    expect({ ...theirs.body, detail: '', request_id: '' }).toEqual({
      ...none.body,
      detail: '',
      request_id: '',
    });
  });

  test('a malformed id is a 404, not a 500', async () => {
    const token = await t.agentToken('owner-2');
    for (const id of ['not-a-uuid', "1' or '1'='1", '%00', 'x'.repeat(100)]) {
      const res = await t.request('GET', `/v1/leases/${encodeURIComponent(id)}`, { token });
      expect(res.status).toBe(404);
    }
  });

  test('requires a workload identity token', async () => {
    const { lease } = await mint('owner-3');
    const res = await t.request('GET', `/v1/leases/${lease.lease_id}`);
    expect(res.status).toBe(401);
  });
});

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

  test("an agent cannot revoke another agent's lease", async () => {
    const { lease } = await mint('revoker-3');
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/revoke`, {
      token: await t.agentToken('mallory'),
    });
    expect(res.status).toBe(404);
    expect((await introspect(lease.credential.token)).active).toBe(true);
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

  test('is re-evaluated by policy: a renewal that asks for a forbidden thing is denied', async () => {
    const { token, lease } = await mint('renewer-3', {}, 120);
    // Tighten the policy set: no more renewals for this template.
    const { rewritePolicyDir } = await import('../../helpers/policy-dir.js');
    const { TEST_POLICIES } = await import('../../helpers/broker.js');
    const yaml = await (await import('node:fs/promises')).readFile(`${t.policyDir}/broker.yaml`, 'utf8');
    await rewritePolicyDir(t.policyDir, {
      yaml,
      policies: {
        ...TEST_POLICIES,
        'guardrails.cedar': `${TEST_POLICIES['guardrails.cedar']}
@id("no-renewals")
forbid (principal, action == Action::"renew", resource);
`,
      },
    });
    expect((await t.policies.reload()).ok).toBe(true);
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/renew`, { token, body: {} });
    expect(res.status).toBe(403);
    expect(res.body.policies).toEqual(['no-renewals']);
    await rewritePolicyDir(t.policyDir, { yaml, policies: TEST_POLICIES });
    expect((await t.policies.reload()).ok).toBe(true);
  });

  test('a revoked lease cannot be renewed', async () => {
    const { token, lease } = await mint('renewer-4');
    await t.request('POST', `/v1/leases/${lease.lease_id}/revoke`, { token });
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/renew`, {
      token,
      body: { ttl_seconds: 60 },
    });
    expect(res.status).toBe(409);
  });

  test('unknown fields in the renew body are rejected', async () => {
    const { token, lease } = await mint('renewer-5');
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/renew`, {
      token,
      body: { ttl_seconds: 60, scope: 'more' },
    });
    expect(res.status).toBe(400);
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

describe('an expired lease', () => {
  test('cannot be renewed even before the sweeper has marked it', async () => {
    const { lease } = await mint('late-1', {}, 60);
    t.clock.advance(61);
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/renew`, {
      token: await t.agentToken('late-1'),
      body: {},
    });
    expect(res.status).toBe(409);
    t.clock.advance(-61);
  });
});
