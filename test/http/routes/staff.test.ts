// The security staff's API: list step-up requests and leases with every filter, revoke leases in
// bulk, read the audit trail page by page while new events arrive. Agents are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealAuditLog } from '../../../src/audit/audit-log.js';
import {
  ADMIN_REQUEST,
  APPROVAL_POLICIES,
  APPROVAL_TEMPLATES,
  approve,
  collect,
  deny,
  leaseState,
  requestStepUp,
} from '../../approvals/fixtures.js';
import { credentialRequest, startTestBroker, type TestBroker } from '../../helpers/broker.js';

let t: TestBroker;
let staff: string;

/** Cursors shaped like ours but not ours: garbage, an id that is no uuid, a time past any Date. */
const FORGED_CURSORS = [
  'bm90LWEtY3Vyc29y',
  Buffer.from(`1700000000000:${'-'.repeat(36)}`).toString('base64url'),
  Buffer.from('9999999999999999:00000000-0000-4000-8000-000000000000').toString('base64url'),
];

beforeAll(async () => {
  t = await startTestBroker({ templates: APPROVAL_TEMPLATES, policies: APPROVAL_POLICIES });
  staff = await t.staffToken('sec-lead', ['security-oncall', 'security']);
});

afterAll(async () => {
  await t?.close();
});

async function mint(agent: string, taskId = 't-42', template = 'reports-api', actions = ['reports:read']) {
  const res = await t.request('POST', '/v1/credentials', {
    token: await t.agentToken(agent),
    body: credentialRequest({ template }, { task_id: taskId, actions }),
  });
  expect(res.status, res.text).toBe(201);
  return res.body as { lease_id: string; credential: { token: string } };
}

async function introspect(token: string): Promise<{ active: boolean }> {
  return (await t.request('POST', '/v1/introspect', { body: { token } })).body;
}

/** Every page of a list endpoint, following next_cursor; `between` runs after each page. */
async function allPages(path: string, between: () => Promise<void> = async () => {}) {
  const items: { [key: string]: unknown }[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res = await t.request('GET', `${path}${cursor ? `${sep}cursor=${cursor}` : ''}`, { token: staff });
    expect(res.status, res.text).toBe(200);
    items.push(...res.body.items);
    cursor = res.body.next_cursor;
    pages++;
    await between();
  } while (cursor);
  return { items, pages };
}

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

  it('refuses a cursor it did not issue, however it is forged', async () => {
    for (const path of ['/v1/approvals', '/v1/leases']) {
      for (const cursor of FORGED_CURSORS) {
        const res = await t.request('GET', `${path}?cursor=${cursor}`, { token: staff });
        expect(res.status, `${path} ${Buffer.from(cursor, 'base64url').toString()}`).toBe(400);
        expect(res.body.errors).toEqual([{ field: 'cursor', message: 'not a cursor this API returned' }]);
      }
    }
  });
});

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

  it('rejects an unknown state, an unknown filter and a forged cursor', async () => {
    for (const [query, field] of [
      ['state=stolen', 'query.state'],
      ['owner=me', 'query.owner'],
      ['limit=0', 'query.limit'],
    ]) {
      const res = await t.request('GET', `/v1/leases?${query}`, { token: staff });
      expect(res.status, query).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    expect((await t.request('GET', '/v1/leases?cursor=AAAA', { token: staff })).status).toBe(400);
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

  it('refuses a revoke without a filter, without a reason, or with an unknown field', async () => {
    const lease = await mint('agent-bad-input', 't-bad-input');
    for (const body of [
      { reason: 'everything' },
      { agent: 'agent-bad-input' },
      { agent: 'agent-bad-input', reason: '   ' },
      { agent: 'agent-bad-input', reason: 'x', state: 'active' },
      { agent: '', reason: 'x' },
    ]) {
      const res = await t.request('POST', '/v1/leases/revoke', { token: staff, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.errors.length).toBeGreaterThan(0);
    }
    expect((await introspect(lease.credential.token)).active).toBe(true);
  });
});

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

  it('refuses a forged cursor and a bad lease id', async () => {
    expect((await t.request('GET', '/v1/audit?cursor=zzzz', { token: staff })).status).toBe(400);
    expect((await t.request('GET', '/v1/audit?lease_id=1%20or%201=1', { token: staff })).status).toBe(400);
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

describe('agents on the staff API', () => {
  it('are refused 403 on the review routes with a valid workload token', async () => {
    const token = await t.agentToken('agent-overreach');
    const res = await t.request('GET', '/v1/approvals?status=pending', { token });
    expect(res.status).toBe(403);
    expect(res.body.type).toBe('urn:jit-broker:problem:forbidden');
  });

  // Needs staffAuth in src/http/middleware/auth.ts to answer a valid workload token with 403, as
  // the approval routes do (app.ts attaches it to these paths before the routes run).
  it('are refused 403 on the bulk revoke and audit routes with a valid workload token, and change nothing', async () => {
    const lease = await mint('agent-overreach', 't-overreach');
    const token = await t.agentToken('agent-overreach');
    for (const [method, path, body] of [
      ['POST', '/v1/leases/revoke', { agent: 'agent-bystander', reason: 'I can' }],
      ['GET', '/v1/audit?agent=agent-overreach', undefined],
    ] as const) {
      const res = await t.request(method, path, { token, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.type, `${method} ${path}`).toBe('urn:jit-broker:problem:forbidden');
    }
    expect((await introspect(lease.credential.token)).active).toBe(true);
  });

  it('are refused 401 with no token or a token from no trusted issuer', async () => {
    const forged = await t.issuer.sign({ sub: 'x', aud: 'somewhere-else' });
    for (const path of ['/v1/approvals', '/v1/leases', '/v1/audit']) {
      expect((await t.request('GET', path)).status, path).toBe(401);
      expect((await t.request('GET', path, { token: forged })).status, path).toBe(401);
    }
  });
});
