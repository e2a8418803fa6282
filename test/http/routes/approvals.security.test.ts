// Agents on the staff's review routes: a valid workload token is refused 403, no token or an
// untrusted one 401.
import { randomUUID } from 'node:crypto';
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
  it('are refused 403 on the review routes with a valid workload token', async () => {
    const token = await t.agentToken('agent-overreach');
    const res = await t.request('GET', '/v1/approvals?status=pending', { token });
    expect(res.status).toBe(403);
    expect(res.body.type).toBe('urn:jit-broker:problem:forbidden');
  });

  it('are refused 401 with no token or a token from no trusted issuer', async () => {
    const forged = await t.issuer.sign({ sub: 'x', aud: 'somewhere-else' });
    expect((await t.request('GET', '/v1/approvals')).status, '/v1/approvals').toBe(401);
    expect((await t.request('GET', '/v1/approvals', { token: forged })).status, '/v1/approvals').toBe(401);
  });
});

const someApproval = randomUUID();
runCommonAuthTests({
  method: 'GET',
  path: `/v1/approvals/${someApproval}`,
  kind: 'workload',
  broker: () => t,
});
runCommonAuthTests({ method: 'GET', path: '/v1/approvals', kind: 'staff', broker: () => t });
runCommonAuthTests({
  method: 'POST',
  path: `/v1/approvals/${someApproval}/approve`,
  kind: 'staff',
  body: {},
  broker: () => t,
});
runCommonAuthTests({
  method: 'POST',
  path: `/v1/approvals/${someApproval}/deny`,
  kind: 'staff',
  body: { reason: 'no change ticket' },
  broker: () => t,
});
