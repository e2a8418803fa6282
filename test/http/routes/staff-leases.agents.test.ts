// GET /v1/leases as an agent: its own leases only, with the staff filters applied inside them.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { agentLeaseCalls } from '../../helpers/leases.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

const { mint } = agentLeaseCalls(() => t);

describe("GET /v1/leases as an agent: its own leases, never another agent's", () => {
  test("lists only the caller's leases, newest first, each with its provider, issue time and granted intent", async () => {
    const first = await mint('lister-1', { task_id: 't-list-1', purpose: 'first report' });
    t.clock.advance(1);
    const second = await mint('lister-1', { task_id: 't-list-2', purpose: 'second report' });
    await mint('lister-other', { task_id: 't-list-1' });
    const res = await t.request('GET', '/v1/leases', { token: first.token });
    expect(res.status).toBe(200);
    expect(res.body.items.map((l: { lease_id: string }) => l.lease_id)).toEqual([
      second.lease.lease_id,
      first.lease.lease_id,
    ]);
    expect(res.body.items[1]).toEqual({
      lease_id: first.lease.lease_id,
      state: 'active',
      template: 'reports-api',
      task_id: 't-list-1',
      agent: 'lister-1',
      expires_at: first.lease.expires_at,
      revoked_at: null,
      revoke_reason: null,
      provider: 'jwt',
      issued_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      intent: { task_id: 't-list-1', purpose: 'first report', actions: ['reports:read'], resources: [] },
    });
    expect(res.body.next_cursor).toBeNull();
    expect(res.text).not.toContain(first.lease.credential.token);
  });

  test('the staff filters apply within its own leases; an agent filter naming another agent matches nothing', async () => {
    const a = await mint('lister-2', { task_id: 't-f-1' });
    t.clock.advance(1);
    const b = await mint('lister-2', { task_id: 't-f-2' });
    await mint('lister-2-neighbour', { task_id: 't-f-1' });
    await t.request('POST', `/v1/leases/${b.lease.lease_id}/revoke`, { token: b.token });
    const ids = async (query: string) =>
      (
        (await t.request('GET', `/v1/leases?${query}`, { token: a.token })).body.items as {
          lease_id: string;
        }[]
      ).map((l) => l.lease_id);
    expect(await ids('task_id=t-f-1')).toEqual([a.lease.lease_id]);
    expect(await ids('state=revoked')).toEqual([b.lease.lease_id]);
    expect(await ids('template=reports-api')).toEqual([b.lease.lease_id, a.lease.lease_id]);
    expect(await ids('agent=lister-2')).toEqual([b.lease.lease_id, a.lease.lease_id]);
    expect(await ids('agent=lister-2-neighbour')).toEqual([]);
    expect(await ids('agent=lister-2-neighbour&task_id=t-f-1')).toEqual([]);
  });

  test('pages with the cursor, still only through its own leases', async () => {
    const minted = [];
    for (let i = 0; i < 3; i++) minted.push(await mint('lister-3', { task_id: `t-page-${i}` }));
    await mint('lister-3-other');
    const token = minted[0]!.token;
    const page1 = await t.request('GET', '/v1/leases?limit=2', { token });
    expect(page1.body.items).toHaveLength(2);
    const page2 = await t.request('GET', `/v1/leases?limit=2&cursor=${page1.body.next_cursor}`, { token });
    expect(page2.body.items.map((l: { agent: string }) => l.agent)).toEqual(['lister-3']);
    expect(page2.body.next_cursor).toBeNull();
  });

  test('staff still see every agent, with the detail view', async () => {
    await mint('lister-4');
    const res = await t.request('GET', '/v1/leases?agent=lister-4', {
      token: await t.staffToken('alice@example.com'),
    });
    expect(res.status).toBe(200);
    expect(res.body.items[0]).toMatchObject({
      agent: 'lister-4',
      agent_issuer: 'test',
      provider: 'jwt',
      policies: expect.any(Array),
    });
  });

  test('a forged or missing token is a 401', async () => {
    expect((await t.request('GET', '/v1/leases')).status).toBe(401);
    expect((await t.request('GET', '/v1/leases', { token: 'not-a-jwt' })).status).toBe(401);
  });
});
