// The security staff's lease API refuses bad filters, forged cursors and revokes without a filter
// or a reason, and revokes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBroker } from '../../helpers/broker.js';
import { FORGED_CURSORS, staffCalls, startStaffApiBroker } from '../../helpers/staff-api.js';

let t: TestBroker;
let staff: string;
beforeAll(async () => {
  ({ t, staff } = await startStaffApiBroker());
});
afterAll(async () => t?.close());

const { mint, introspect } = staffCalls(() => ({ t, staff }));

describe('GET /v1/leases', () => {
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

  it('refuses a cursor it did not issue, however it is forged', async () => {
    for (const cursor of FORGED_CURSORS) {
      const res = await t.request('GET', `/v1/leases?cursor=${cursor}`, { token: staff });
      expect(res.status, `/v1/leases ${Buffer.from(cursor, 'base64url').toString()}`).toBe(400);
      expect(res.body.errors).toEqual([{ field: 'cursor', message: 'not a cursor this API returned' }]);
    }
  });
});

describe('POST /v1/leases/revoke', () => {
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
