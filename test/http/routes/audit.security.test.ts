// Agents on the staff's audit trail: a valid workload token is refused 403, no token or an
// untrusted one 401.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApprovalsBroker } from '../../helpers/approvals.js';
import type { TestBroker } from '../../helpers/broker.js';
import { runCommonAuthTests } from '../../helpers/common-auth.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startApprovalsBroker();
});
afterAll(async () => t?.close());

describe('agents on the staff API', () => {
  it('are refused 403 on the audit route with a valid workload token', async () => {
    const token = await t.agentToken('agent-overreach');
    const res = await t.request('GET', '/v1/audit?agent=agent-overreach', { token });
    expect(res.status, 'GET /v1/audit').toBe(403);
    expect(res.body.type, 'GET /v1/audit').toBe('urn:jit-broker:problem:forbidden');
  });

  it('are refused 401 with no token or a token from no trusted issuer', async () => {
    const forged = await t.issuer.sign({ sub: 'x', aud: 'somewhere-else' });
    expect((await t.request('GET', '/v1/audit')).status, '/v1/audit').toBe(401);
    expect((await t.request('GET', '/v1/audit', { token: forged })).status, '/v1/audit').toBe(401);
  });
});

runCommonAuthTests({ method: 'GET', path: '/v1/audit', kind: 'staff', broker: () => t });
runCommonAuthTests({ method: 'GET', path: '/v1/audit/verify', kind: 'staff', broker: () => t });
