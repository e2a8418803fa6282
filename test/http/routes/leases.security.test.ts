// Someone else's lease: a 404 indistinguishable from none, and never revoked by another agent;
// every lease route needs a workload identity token.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { runCommonAuthTests } from '../../helpers/common-auth.js';
import { agentLeaseCalls } from '../../helpers/leases.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

const { mint, introspect } = agentLeaseCalls(() => t);

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

  test('requires a workload identity token', async () => {
    const { lease } = await mint('owner-3');
    const res = await t.request('GET', `/v1/leases/${lease.lease_id}`);
    expect(res.status).toBe(401);
  });
});

describe('POST /v1/leases/{id}/revoke', () => {
  test("an agent cannot revoke another agent's lease", async () => {
    const { lease } = await mint('revoker-3');
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/revoke`, {
      token: await t.agentToken('mallory'),
    });
    expect(res.status).toBe(404);
    expect((await introspect(lease.credential.token)).active).toBe(true);
  });
});

const someLease = randomUUID();
for (const [method, path, body] of [
  ['GET', `/v1/leases/${someLease}`, undefined],
  ['POST', `/v1/leases/${someLease}/renew`, {}],
  ['POST', `/v1/leases/${someLease}/revoke`, {}],
  ['POST', '/v1/tasks/t-42/complete', undefined],
] as const) {
  runCommonAuthTests({ method, path, kind: 'workload', body, broker: () => t });
}
